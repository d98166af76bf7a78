"""One job, three tools, one server: this project beside distilabel and Bespoke Curator.

The job: N texts in ten languages and six scripts (sentences of the UDHR files in --texts-dir,
recombined into distinct texts), each sent once as the backward-instruction chat that this
project's generate stage writes for it (the same messages, n=4 candidates, max_tokens 48,
temperature 0.7, top_p 0.95), to benchmarks/stub_server.py. Tools:

* ours-generate: the generate stage alone (benchmarks/peers/ours_generate.py);
* ours-build: the whole `x-instruction build --engine openai` (it also sends refine's and the
  rater's requests, and prepares the texts first; embedding models replaced by free ones);
* distilabel and curator: each in .venv-peers (scripts/install_peers.sh), with its best
  documented throughput settings (see their runners in benchmarks/peers/).

Each run gets a fresh server. Two server settings:
* instant: replies at once. Also checked here: a second run of the same command (its cache on)
  and a run killed (SIGKILL to its process group) when half its requests have arrived, then
  run again: how many requests each sends;
* latency: each reply after a seeded lognormal delay (median --median, sigma --sigma), at most
  --cap requests served at once (vLLM's --max-num-seqs), the server recording requests in flight.
  Plotted per tool to --plot.

Measured per run: requests (the server's count), requests/s over the server's busy span (first
request in to last reply out), the tool's wall time, its process tree's CPU time (os.wait4: the
runner and every descendant it waited for) per request, with the start-up CPU (imports, measured
apart with BENCH_IMPORT_ONLY=1) shown separately, and the peak RSS of the process tree (summed,
sampled every 0.1 s).

    scripts/install_peers.sh
    python benchmarks/bench_peers.py --texts-dir DIR_WITH_UDHR_JSONL --texts 1000,10000
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from stub_server import StubServer, free_port

LANGS = (
    "bn",
    "fi",
    "hi",
    "id",
    "sw",
    "ta",
    "th",
    "tr",
    "ur",
    "vi",
)  # Bengali, Latin, Devanagari, Tamil, Thai, Arabic
TOOLS = ("ours-generate", "ours-build", "distilabel", "curator")
RUNNERS = {
    "ours-generate": "ours_generate.py",
    "ours-build": "ours_build.py",
    "distilabel": "run_distilabel.py",
    "curator": "run_curator.py",
}
PEERS = ("distilabel", "curator")
SENTENCE_END = re.compile(r"(?<=[.!?।۔])\s+")


# -- the job -------------------------------------------------------------------------------------
def sentences(texts_dir: Path, lang: str) -> list[str]:
    """Sentences (Thai: phrases) of `{lang}.jsonl` in texts_dir and of the embedded corpus."""
    pool = []
    for path in (
        texts_dir / f"{lang}.jsonl",
        ROOT / "builder" / "data" / "corpus" / f"{lang}.jsonl",
    ):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            parts = text.split(" ") if lang == "th" else SENTENCE_END.split(text)
            pool += [p.strip() for p in parts if len(p.strip()) > 20]
    return sorted(set(pool))


def write_job(folder: Path, texts_dir: Path, langs: list[str], n: int, seed: int = 0) -> dict:
    """N texts (five sentences drawn from a language's pool, so no two are near-duplicates), the
    generate stage's chat for each, and its sampling; returns the sampling parameters."""
    from builder.config import BuildConfig
    from builder.stages.configs import generate_config, seeds_for
    from builder.stages.generate import Generate

    config = BuildConfig(langs=langs)
    sampling = generate_config(config).sampling()
    params = {
        "max_tokens": sampling.max_new_tokens,
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
    }
    rng = random.Random(seed)
    (folder / "corpus").mkdir(parents=True, exist_ok=True)
    with open(folder / "job.jsonl", "w", encoding="utf-8") as job:
        for k, lang in enumerate(langs):
            pool = sentences(texts_dir, lang)
            if len(pool) < 10:
                raise SystemExit(
                    f"bench_peers: {texts_dir / (lang + '.jsonl')} gives {len(pool)} sentences; "
                    "point --texts-dir at a folder of {lang}.jsonl files with a 'text' field"
                )
            stage = Generate(lang, None, generate_config(config), seeds_for(config, lang))
            count = n // len(langs) + (k < n % len(langs))
            with open(folder / "corpus" / f"{lang}.jsonl", "w", encoding="utf-8") as corpus:
                for i in range(count):
                    text = " ".join(rng.sample(pool, min(5, len(pool))))
                    row_id = f"{lang}-{i}"
                    corpus.write(
                        json.dumps({"id": row_id, "text": text}, ensure_ascii=False) + "\n"
                    )
                    job.write(
                        json.dumps(
                            {
                                "id": row_id,
                                "lang": lang,
                                "text": text,
                                "messages": stage.prompt(row_id, text),
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
    (folder / "params.json").write_text(json.dumps(params))
    return params


# -- one run -------------------------------------------------------------------------------------
def tree_rss(root) -> int:
    import psutil

    total = 0
    try:
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_tool(
    tool: str,
    python: str,
    job: Path,
    url: str,
    work: Path,
    stub: StubServer | None = None,
    kill_at: int | None = None,
    import_only: bool = False,
    log: Path | None = None,
    timeout: float | None = None,
) -> dict:
    """Run one runner to its end (or SIGKILL its process group once the server has seen
    `kill_at` requests, or after `timeout` seconds: then `hung`); returns wall seconds, CPU
    seconds of its process tree, peak RSS."""
    import psutil

    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OPENAI_API_KEY": "sk-stub",
        "PYTHONPATH": str(ROOT),
        "BENCH_IMPORT_ONLY": "1" if import_only else "0",
        # Curator: no telemetry, no viewer upload, litellm's cost map from its own package (no
        # download), tiktoken's encoding from the file install_peers.sh put in the cache
        "TELEMETRY_ENABLED": "false",
        "CURATOR_VIEWER": "0",
        "CURATOR_DISABLE_RICH_DISPLAY": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "TIKTOKEN_CACHE_DIR": str(Path(python).absolute().parents[1] / "tiktoken-cache"),
    }
    # ours-generate@1024: shards (and request chunks) of 1024 rows
    tool, _, shard = tool.partition("@")
    env["BENCH_SHARD"] = shard
    cmd = [
        python,
        str(HERE / "peers" / RUNNERS[tool]),
        "--job",
        str(job),
        "--base-url",
        url,
        "--work",
        str(work),
    ]
    start = time.perf_counter()
    with open(log or os.devnull, "a") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
    root = psutil.Process(proc.pid)
    peak, killed, hung, stop = [0], [False], [False], threading.Event()

    def watch():
        while not stop.wait(0.05):
            peak[0] = max(peak[0], tree_rss(root))
            if kill_at is not None and not killed[0] and stub.stats()["completions"] >= kill_at:
                os.killpg(proc.pid, signal.SIGKILL)
                killed[0] = True
            if timeout is not None and not killed[0] and time.perf_counter() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                killed[0] = hung[0] = True

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    watcher.join()
    if killed[0]:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of its group still alive
        except ProcessLookupError:
            pass
    elif proc.returncode != 0:
        raise SystemExit(
            f"bench_peers: {tool} failed (exit {proc.returncode}); its output is in {log}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss": peak[0],
        "killed": killed[0],
        "hung": hung[0],
    }


def busy_span(events: list) -> tuple[float, float, float]:
    """(first arrival, last arrival, last reply) in the server's record."""
    first = last_arrival = events[0][0]
    queued_before = 0
    for t, _, queued in events:
        if queued > queued_before:  # every request joins the queue first: an arrival
            last_arrival = t
        queued_before = queued
    return first, last_arrival, events[-1][0]


def fullness(events: list, cap: int) -> dict:
    """How full the tool kept the server between the first arrival and the last one (after the
    last arrival the client has nothing left to send: that is the tail): the time-weighted mean
    of requests in flight as a share of the cap, and the share of that time at >= 95% of it."""
    first, last_arrival, _ = busy_span(events)
    span = last_arrival - first
    if span <= 0:
        return {"mean_share": 0.0, "time_at_95": 0.0}
    area = full = 0.0
    for (t, flight, _), (t_next, _, _) in itertools.pairwise(events):
        t0, t1 = max(t, first), min(t_next, last_arrival)
        if t1 > t0:
            area += flight * (t1 - t0)
            full += (t1 - t0) if flight >= 0.95 * cap else 0.0
    return {"mean_share": area / span / cap, "time_at_95": full / span}


def measure(
    tool: str, python: str, job: Path, root: Path, server: dict, checks: bool, log: Path
) -> dict:
    work = root / f"{tool}-work"
    shutil.rmtree(work, ignore_errors=True)
    # One port for all of a tool's runs: a cache keyed on the server's URL (distilabel's step
    # signature holds it) must see the same server on the rerun, as a user's would.
    server = {"record": True, **server, "port": free_port()}
    plain = {"record": True, "port": server["port"]}
    with StubServer(**server) as stub:
        run = run_tool(tool, python, job, stub.url, work, log=log)
        sent = stub.stats()["completions"]
        events = stub.inflight()["events"]
    first, _, last = busy_span(events) if events else (0.0, 0.0, 0.0)
    result = {
        **run,
        "requests": sent,
        "rate": sent / (last - first) if last > first else 0.0,
        "events": events,
    }
    if server.get("max_num_seqs"):
        result.update(fullness(events, server["max_num_seqs"]))
    if checks:
        # A check run that takes far longer than the cold run has hung (distilabel's resume did):
        # it is stopped and reported as such.
        limit = max(120.0, 5 * run["wall"])
        # the same command again: the cache should answer everything
        with StubServer(**plain) as stub:
            again = run_tool(tool, python, job, stub.url, work, log=log, timeout=limit)
            result["second_run"] = stub.stats()["completions"]
            result["second_hung"] = again["hung"]
        killed = root / f"{tool}-killed"
        shutil.rmtree(killed, ignore_errors=True)
        with StubServer(**plain) as stub:
            run_tool(
                tool,
                python,
                job,
                stub.url,
                killed,
                stub=stub,
                kill_at=sent // 2,
                log=log,
                timeout=limit,
            )
            result["killed_after"] = stub.stats()["completions"]
        with StubServer(**plain) as stub:
            rerun = run_tool(tool, python, job, stub.url, killed, log=log, timeout=limit)
            result["resume_sent"] = stub.stats()["completions"]
            result["resume_hung"] = rerun["hung"]
    return result


def startup_cpu(tool: str, python: str, job: Path, root: Path) -> float:
    return run_tool(tool, python, job, "http://127.0.0.1:9/v1", root / "startup", import_only=True)[
        "cpu"
    ]


# -- report --------------------------------------------------------------------------------------
def versions(peers_python: str) -> dict:
    ours = {
        "x-instruction": importlib.metadata.version("x-instruction"),
        "python": sys.version.split()[0],
    }
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "('distilabel', 'bespokelabs-curator', 'openai', 'litellm', 'datasets')}))"
    )
    try:
        peers = json.loads(
            subprocess.run(
                [peers_python, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
    except (OSError, subprocess.CalledProcessError):
        peers = {}
    return {**ours, **peers}


def table(results: dict, n: int, server: str) -> str:
    latency = server == "latency"
    head = [
        "tool",
        "requests",
        "requests/s",
        "wall s",
        "CPU ms/request",
        "of it start-up",
        "peak RSS MiB",
    ]
    head += (
        ["mean in flight / cap", "time >= 95% of cap"]
        if latency
        else ["2nd run sent", "killed at / rerun sent"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool, r in results.items():
        req = max(r["requests"], 1)
        row = [
            tool,
            f"{r['requests']:,}",
            f"{r['rate']:,.0f}",
            f"{r['wall']:.1f}",
            f"{1000 * r['cpu'] / req:.2f}",
            f"{1000 * r['startup'] / req:.2f}",
            f"{r['peak_rss'] / 2**20:,.0f}",
        ]
        if latency:
            row += [f"{100 * r.get('mean_share', 0):.0f}%", f"{100 * r.get('time_at_95', 0):.0f}%"]
        else:
            hung = " (hung: stopped)"
            row += [
                f"{r['second_run']:,}{hung if r['second_hung'] else ''}"
                if "second_run" in r
                else "-",
                f"{r['killed_after']:,} / {r['resume_sent']:,}{hung if r['resume_hung'] else ''}"
                if "resume_sent" in r
                else "-",
            ]
        lines.append("| " + " | ".join(row) + " |")
    return f"{n:,} texts, {server} server\n\n" + "\n".join(lines)


def plot(latency_runs: dict, cap: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = list(latency_runs)
    fig, axes = plt.subplots(
        len(tools), 1, figsize=(7, 1.5 * len(tools) + 0.6), sharex=True, squeeze=False
    )
    for ax, tool in zip(axes[:, 0], tools):
        events = latency_runs[tool]["events"]
        if events:
            t = [e[0] for e in events]
            ax.step(t, [e[1] for e in events], where="post", lw=0.8, label="in flight")
            ax.step(
                t,
                [min(e[2], 2 * cap) for e in events],
                where="post",
                lw=0.6,
                alpha=0.6,
                label="queued",
            )
        ax.axhline(cap, color="k", ls="--", lw=0.6)
        ax.set_ylim(0, 1.6 * cap)
        ax.set_ylabel(tool, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=2)
    axes[-1, 0].set_xlabel("seconds since the first request (server's view)", fontsize=8)
    fig.suptitle(f"requests in flight at the stub server (cap {cap}, dashed)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--texts-dir", required=True, type=Path, help="folder of {lang}.jsonl files (UDHR articles)"
    )
    parser.add_argument("--texts", default="1000,10000", help="comma-separated N")
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--servers", default="instant,latency")
    parser.add_argument("--cap", type=int, default=64, help="the latency server's --max-num-seqs")
    parser.add_argument(
        "--median", type=float, default=0.4, help="the latency server's median delay (s)"
    )
    parser.add_argument("--sigma", type=float, default=0.9, help="the lognormal's sigma")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--checks-up-to",
        type=int,
        default=1000,
        help="run the cache and kill/resume checks at sizes up to this N (0: never)",
    )
    parser.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    parser.add_argument(
        "--plot", type=Path, default=ROOT / "benchmarks" / "results" / "peers_inflight.png"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument(
        "--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)"
    )
    args = parser.parse_args()
    tools = args.tools.split(",")
    if any(t in PEERS for t in tools) and not Path(args.peers_python).exists():
        raise SystemExit(
            f"bench_peers: no peers environment at {args.peers_python}; run scripts/install_peers.sh"
        )
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-peers-"))
    root.mkdir(parents=True, exist_ok=True)
    log = root / "runners.log"
    print(f"versions: {json.dumps(versions(args.peers_python))}")
    print(
        f"cores: {os.cpu_count()}, load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    servers = {
        "instant": {},
        "latency": {
            "latency_median": args.median,
            "latency_sigma": args.sigma,
            "seed": args.seed,
            "max_num_seqs": args.cap,
            "record": True,
        },
    }
    report, startup = {}, {}
    for n in [int(x) for x in args.texts.split(",")]:
        job = root / f"job-{n}"
        params = write_job(job, args.texts_dir, args.langs.split(","), n, args.seed)
        print(f"\njob: {n:,} texts in {args.langs}; each request {json.dumps(params)}", flush=True)
        for server in args.servers.split(","):
            results = {}
            for tool in tools:
                python = args.peers_python if tool in PEERS else sys.executable
                if tool.partition("@")[0] not in RUNNERS:
                    raise SystemExit(
                        f"bench_peers: unknown tool {tool!r}; tools: {', '.join(TOOLS)} "
                        "(ours-generate@N, ours-build@N: shards of N rows)"
                    )
                r = measure(
                    tool,
                    python,
                    job,
                    root / f"{n}-{server}",
                    {**servers[server]},
                    checks=server == "instant" and n <= args.checks_up_to and "@" not in tool,
                    log=log,
                )
                base = tool.partition("@")[0]
                if base not in startup:  # the same imports at every size: measured once
                    startup[base] = startup_cpu(base, python, job, root)
                r["startup"] = startup[base]
                results[tool] = r
                print(
                    f"  {server} {tool}: {r['requests']:,} requests, {r['rate']:,.0f}/s, "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
                report[f"{n}-{server}"] = {
                    t: {k: v for k, v in x.items() if k != "events"} for t, x in results.items()
                }
                # after every run: a long benchmark stopped early keeps what it measured
                if args.json:
                    args.json.write_text(json.dumps(report, indent=1))
            print("\n" + table(results, n, server) + "\n", flush=True)
            if server == "latency":
                path = (
                    args.plot
                    if n == max(int(x) for x in args.texts.split(","))
                    else args.plot.with_name(f"{args.plot.stem}_{n}{args.plot.suffix}")
                )
                plot(results, args.cap, path)
                print(f"plot: {path}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
