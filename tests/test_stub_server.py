"""The throughput benchmark's harness (benchmarks/stub_server.py, bench_throughput.py) must not
rot: a tiny build through the CLI against the stub completes, sends exactly the requests the
stages call for, and a rerun sends none. The stub's replies are canned: nothing here says
anything about a model's behaviour."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import datasets

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_throughput import write_corpus  # noqa: E402
from builder.cli import main  # noqa: E402
from stub_server import StubServer  # noqa: E402


def _build(tmp_path: Path, url: str) -> int:
    return main(["build", "--corpus", str(tmp_path / "corpus"), "--langs", "sw,fi", "--engine", "openai",
                 "--base-url", url, "--model", "smollm2-135m", "--min-relevance", "0",
                 "--work-dir", str(tmp_path / "work"), "--output-dir", str(tmp_path / "out"), "--overwrite"])


def test_tiny_build_through_the_stub_sends_the_expected_requests(tmp_path):
    write_corpus(tmp_path / "corpus", ["sw", "fi"], 8)  # 4 texts a language
    with StubServer() as stub:
        assert _build(tmp_path, stub.url) == 0
        first = stub.stats()
        info = json.loads((tmp_path / "work" / "build_info.json").read_text())
        assert _build(tmp_path, stub.url) == 0  # the same command again: all answers are cached
        second = stub.stats()

    # No --tokenizer: prepare counted tokens with the stub's /tokenize (vLLM's shape).
    assert first["tokenize"] >= 8
    candidates = datasets.load_dataset(str(tmp_path / "out"), "candidates", split="train")
    # Every text that prepare kept (a recombined text may be dropped there, e.g. as boilerplate)
    # got four valid candidates: none failed generate.
    generated = [r for r in candidates if r["candidates"]]
    assert len(generated) >= 6 and "no_valid_instruction" not in candidates["dropped"], candidates["dropped"]
    # Four distinct candidates each and two rounds: round 2 judges the next candidate, no rewrite.
    assert all(len(r["candidates"]) == 4 for r in generated)
    judged = sum(len(r["judgements"]) for r in candidates)
    assert judged > len(generated)  # the varied scores sent some pairs to round 2
    controls = sum(q["rater"]["pairs"] for q in info["quality"].values())
    expected = len(generated) + judged + controls  # generate (n=4 in one request) + refine + rater controls
    assert info["engine_stats"]["calls"] == expected
    assert first["completions"] == expected  # what the server saw is what the client counted
    assert second["completions"] == first["completions"]  # the rerun sent nothing
    published = [datasets.load_dataset(str(tmp_path / "out"), lang, split="train") for lang in ("sw", "fi")]
    assert sum(len(d) for d in published) > 0
