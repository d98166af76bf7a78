"""Publishing cost for a 10-language build against the local Hub server (tests/hub_server.py).

    python benchmarks/bench_hub.py [--min-rows 20] [--max-rows 40] [--seed 0]

Synthetic rows shaped like the pipeline's output (tests/_hub_fixture.py): 20-40 kept rows per
paper language plus the `candidates` audit table. Measures, in one run:
export (Parquet + card + plots), card rendering with and without plots, the first push, the
load-back of every config from the Hub (checked equal to the local export), and a rerun of the
push with nothing changed (the resume cost). Prints bytes uploaded per language and ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-rows", type=int, default=20)
    parser.add_argument("--max-rows", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tests.hub_server import LocalHub

    work = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    token = "hf_" + secrets.token_hex(16)
    hub = LocalHub(work / "hub", tokens={token}).__enter__()
    # Before importing huggingface_hub / datasets: they read these into constants at import.
    os.environ.update(
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_XET="1",
        HF_TOKEN=token,
        HF_HOME=str(work / "hf-home"),
        HF_HUB_OFFLINE="0",
        HF_DATASETS_OFFLINE="0",
        HF_DATASETS_CACHE=str(work / "datasets-cache"),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    from datasets import load_dataset
    from datasets.utils import disable_progress_bars

    from builder.languages import PAPER_LANGUAGES
    from builder.publish.card import render_card
    from builder.publish.export import export_local
    from builder.publish.push import push
    from tests._hub_fixture import synthetic_build

    disable_progress_bars()
    rng = random.Random(args.seed)
    rows = {lang: rng.randint(args.min_rows, args.max_rows) for lang in PAPER_LANGUAGES}
    build = synthetic_build(list(PAPER_LANGUAGES), rows=rows, seed=args.seed)
    repo = "bench/x-instruction"
    out = work / "export"

    _, t_export = _timed(lambda: export_local(out, build.configs, build.build_info))
    _, t_card_text = _timed(lambda: render_card(out, repo_id=repo, plots=False))
    _, t_card_plots = _timed(lambda: render_card(out, repo_id=repo, plots=True))
    summary, t_push = _timed(lambda: push(out, repo))
    commits = hub.state.commit_count(repo)

    def load_back():
        for config in [*PAPER_LANGUAGES, "all", "candidates"]:
            remote = load_dataset(repo, config, split="train", cache_dir=str(work / "remote"))
            local = load_dataset(str(out), config, split="train", cache_dir=str(work / "local"))
            assert remote.to_list() == local.to_list(), config

    _, t_load = _timed(load_back)
    rerun, t_rerun = _timed(lambda: push(out, repo))
    assert set(rerun.values()) == {"unchanged"} and hub.state.commit_count(repo) == commits

    files = hub.state.files(repo)

    def uploaded(prefix):
        return sum(
            hub.state.received.get(e.sha256, 0) for p, e in files.items() if p.startswith(prefix)
        )

    print(
        f"10-language build, {sum(rows.values())} rows ({args.min_rows}-{args.max_rows} per language), "
        f"local Hub at {hub.url}, {os.cpu_count()} CPUs"
    )
    print(f"{'language':<10}{'rows':>6}{'uploaded bytes':>16}{'bytes/row':>11}")
    for lang in PAPER_LANGUAGES:
        size = uploaded(f"{lang}/")
        print(f"{lang:<10}{rows[lang]:>6}{size:>16,}{size / rows[lang]:>11,.0f}")
    card_bytes = uploaded("README.md") + uploaded("build_info.json") + uploaded("plots/")
    print(f"{'candidates':<10}{'':>6}{uploaded('candidates/'):>16,}")
    print(f"{'card+plots':<10}{'':>6}{card_bytes:>16,}")
    print(
        f"{'total':<10}{'':>6}{sum(hub.state.received.values()):>16,}   ({commits} commits: "
        f"{len(summary) - 1} configs + card)"
    )
    print()
    print(f"export_local (Parquet + card + plots) {t_export:7.2f} s")
    print(f"card render, text only                {t_card_text:7.2f} s")
    print(
        f"card render, text + {len(PAPER_LANGUAGES) + 2} plots           {t_card_plots:7.2f} s"
        f"   ({t_card_plots / t_card_text:.1f}x text only)"
    )
    print(f"first push                            {t_push:7.2f} s")
    print(f"load back 12 configs (checked equal)  {t_load:7.2f} s")
    print(f"push + load back                      {t_push + t_load:7.2f} s")
    print(
        f"rerun push, nothing changed           {t_rerun:7.2f} s   ({t_rerun / t_push:.2f}x first push, 0 commits)"
    )
    hub.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
