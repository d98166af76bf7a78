"""A folder of per-language files (`crawl/bn.jsonl`, `crawl/sw.jsonl`, ...) as one corpus: does
each language read only its own file, and does the build equal one build per language?

Writes the UDHR articles (../shared/data/udhr, Bengali first on purpose: it sorts first) into a
folder, runs `x-instruction build --corpus FOLDER` for all languages in one process, then one
build per language on its own file (`--corpus FOLDER/sw.jsonl`), each as a real CLI subprocess,
and prints every funnel, the model calls (requests in each work dir's cache; every run starts
empty) and whether the published pairs and candidate rows agree.

    python benchmarks/bench_corpus_languages.py                          # SmolLM2, sw,hi, 3 docs
    python benchmarks/bench_corpus_languages.py --model /path/to/model --engine transformers
    python benchmarks/bench_corpus_languages.py --builder /other/checkout   # e.g. an older version
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from _build_args import build_parser

ROOT = Path(__file__).resolve().parents[1]
UDHR = ROOT.parent / "shared" / "data" / "udhr"
FOLDER_LANGS = ("bn", "fi", "hi", "sw")  # the folder holds more languages than the build asks for
BUILD_OPTIONS = [
    "--candidates",
    "2",
    "--rounds",
    "1",
    "--accept-score",
    "1",
    "--target-size",
    "3",
    "--max-instruction-tokens",
    "32",
]


def _build(builder: Path, workdir: Path, corpus: str, langs: str, args) -> dict:
    out = workdir / "out"
    command = [
        sys.executable,
        "-m",
        "builder.cli",
        "build",
        "--langs",
        langs,
        "--corpus",
        corpus,
        "--max-docs",
        str(args.max_docs),
        "--model",
        args.model,
        "--work-dir",
        str(workdir / "work"),
        "--output-dir",
        str(out),
        *BUILD_OPTIONS,
    ] + (["--engine", args.engine] if args.engine else [])
    env = {**os.environ, "PYTHONPATH": str(builder), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    workdir.mkdir(parents=True, exist_ok=True)
    # Run outside any checkout: `python -m` puts the working directory first on the import path.
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    printed = proc.stdout + proc.stderr
    table = [
        line
        for line in printed.splitlines()
        if line.startswith(("lang ", "----"))
        or line.split(" ", 1)[0] in langs.split(",")
        and "  " in line
    ]
    return {
        "code": proc.returncode,
        "funnel": "\n".join(table),
        "calls": _requests(workdir / "work"),
        "pairs": _rows(out, langs, "train"),
        "candidates": _candidates(out),
        "printed": printed,
    }


def _requests(work: Path) -> int:
    if not (work / "cache.sqlite").is_file():
        return 0
    with sqlite3.connect(work / "cache.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]


def _rows(out: Path, langs: str, split: str) -> dict[str, list]:
    import datasets

    if not (out / "build_info.json").is_file():
        return {}
    names = set(datasets.get_dataset_config_names(str(out)))
    return {
        lang: sorted(
            (r["id"], r["instruction"]) for r in datasets.load_dataset(str(out), lang, split=split)
        )
        for lang in langs.split(",")
        if lang in names
    }


def _candidates(out: Path) -> dict[str, list]:
    import datasets

    if not (out / "build_info.json").is_file():
        return {}
    audit = datasets.load_dataset(str(out), "candidates", split="train")
    rows: dict[str, list] = {}
    for row in audit:
        rows.setdefault(row["lang"], []).append((row["id"], row["instruction"], row["dropped"]))
    return {lang: sorted(r) for lang, r in rows.items()}


def main() -> None:
    parser = build_parser(__doc__)
    parser.set_defaults(langs="sw,hi", max_docs=3)
    parser.add_argument(
        "--engine", default=None, help="engine to pass to the build (default: the build's)"
    )
    parser.add_argument(
        "--builder", type=Path, default=ROOT, help="checkout whose builder package runs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-langs-"))
    crawl = tmp / "crawl"
    crawl.mkdir()
    for lang in FOLDER_LANGS:
        shutil.copy(UDHR / f"{lang}.jsonl", crawl / f"{lang}.jsonl")

    print(
        f"builder: {args.builder}   model: {args.model}   folder: {', '.join(sorted(FOLDER_LANGS))}"
    )
    folder = _build(args.builder, tmp / "folder", str(crawl) + "/", args.langs, args)
    print(
        f"\n== one build, --corpus crawl/ --langs {args.langs} (exit {folder['code']})\n{folder['funnel']}"
    )
    print(f"model calls: {folder['calls']}")
    singles = {}
    for lang in args.langs.split(","):
        singles[lang] = _build(args.builder, tmp / lang, str(crawl / f"{lang}.jsonl"), lang, args)
        print(
            f"\n== --corpus crawl/{lang}.jsonl --langs {lang} (exit {singles[lang]['code']})\n{singles[lang]['funnel']}"
        )
        print(f"model calls: {singles[lang]['calls']}")

    total_calls = sum(s["calls"] for s in singles.values())
    exported = bool(folder["candidates"]) and all(s["candidates"] for s in singles.values())
    # Without an export on both sides (every row filtered out) there are no rows to compare.
    same_pairs = exported and all(
        folder["pairs"].get(lang, []) == s["pairs"].get(lang, []) for lang, s in singles.items()
    )
    same_candidates = exported and all(
        folder["candidates"].get(lang, []) == s["candidates"].get(lang, [])
        for lang, s in singles.items()
    )
    summary = {
        "folder_pairs": {lang: len(p) for lang, p in folder["pairs"].items()},
        "per_language_pairs": {lang: len(s["pairs"].get(lang, [])) for lang, s in singles.items()},
        "folder_calls": folder["calls"],
        "per_language_calls": total_calls,
        "same_pairs": same_pairs,
        "same_candidates": same_candidates,
    }
    print("\n" + json.dumps(summary, indent=1))
    if folder["code"] not in (0, 1):
        print(folder["printed"][-2000:])
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
