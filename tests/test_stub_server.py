"""The throughput benchmark's harness (benchmarks/stub_server.py, bench_throughput.py) must not
rot: a tiny build through the CLI against the stub completes, sends exactly the requests the
stages call for, and a rerun sends none. The stub's replies are canned: nothing here says
anything about a model's behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_throughput import write_corpus  # noqa: E402
from helpers.stub_builds import stub_build_args  # noqa: E402
from stub_server import StubServer  # noqa: E402

from builder.cli import main  # noqa: E402
from builder.core.workdir import file_sha256  # noqa: E402

ROOT = BENCHMARKS.parent


def _build(tmp_path: Path, url: str) -> int:
    return main(stub_build_args(tmp_path, "sw,fi", url, "--overwrite"))


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
    assert len(generated) >= 6 and "no_valid_instruction" not in candidates["dropped"], candidates[
        "dropped"
    ]
    # Four distinct candidates each and two rounds: round 2 judges the next candidate, no rewrite.
    assert all(len(r["candidates"]) == 4 for r in generated)
    judged = sum(len(r["judgements"]) for r in candidates)
    assert judged > len(generated)  # the varied scores sent some pairs to round 2
    controls = sum(q["rater"]["pairs"] for q in info["quality"].values())
    # generate (n=4 in one request) + refine + rater controls
    expected = len(generated) + judged + controls
    assert info["engine_stats"]["calls"] == expected
    assert first["completions"] == expected  # what the server saw is what the client counted
    assert second["completions"] == first["completions"]  # the rerun sent nothing
    published = [
        datasets.load_dataset(str(tmp_path / "out"), lang, split="train") for lang in ("sw", "fi")
    ]
    assert sum(len(d) for d in published) > 0


def _cli_build(tmp_path: Path, url: str) -> subprocess.CompletedProcess:
    """The build command, as a user runs it, in its own process. A shard is 8 rows and a request
    chunk 4 prompts (--batch-size 1), so a shard can be cut off with a chunk of it cached."""
    cmd = [
        sys.executable,
        "-m",
        "builder.cli",
        *stub_build_args(
            tmp_path, "sw,fi", url, "--shard-size", "8", "--batch-size", "1", "--overwrite"
        ),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _shards(work: Path) -> dict[str, int]:
    return {str(p.relative_to(work)): p.stat().st_mtime_ns for p in work.glob("*/*/*.parquet")}


def test_server_killed_mid_build_fails_in_one_line_and_the_rerun_resumes(tmp_path):
    """The model server is killed in the middle of generate: the build ends with the engine's
    one-line error (exit 1, no traceback) once its retries are spent; the same command, with the
    server back, resumes: finished shards are not rewritten and cached answers are not asked again."""
    write_corpus(tmp_path / "corpus", ["sw", "fi"], 32)  # 16 texts a language: two shards each
    answered = 12  # the server is killed when request 13 arrives: in the second shard
    with StubServer(die_after=answered) as stub:
        port = stub.port
        first = _cli_build(tmp_path, stub.url)
    err = first.stderr
    assert first.returncode == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("x-instruction: error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0], err
    # prepare runs beside the model stages (builder/pipeline/shard_flow.py): the server died while
    # a request waited (its retries spent) or while prepare still counted tokens on it
    assert "failed after" in errors[0] or "stopped counting tokens" in errors[0], err
    assert err.splitlines()[-1] == (
        "Finished shards and cached requests are kept; run the same command again to resume."
    ), err[-600:]
    work = tmp_path / "work"
    kept = _shards(work)
    # On a remote engine the local executor maps shards at once (builder/executors/local.py), so
    # when the server dies every generate shard may still be waiting: what must survive is the
    # prepare shards (checked below) and the answered requests (the rerun's count).
    assert any("prepare-" in name for name in kept), kept
    # A language whose prepare was cut off is prepared again (its dedup state spans the
    # language), to the same bytes; every other shard is kept as it is.
    partial = {
        str(p.relative_to(work)) for p in work.glob("*/prepare-*") if not (p / "_DONE").is_file()
    }
    digests = {name: file_sha256(work / name) for name in kept}

    with StubServer(port=port) as stub:  # the server is back where it was
        rerun = _cli_build(tmp_path, stub.url)
        assert rerun.returncode == 0, rerun.stderr
        sent = stub.stats()["completions"]
    after = _shards(work)
    for name, mtime in kept.items():
        if str(Path(name).parent) in partial:
            assert file_sha256(work / name) == digests[name], name  # prepared again, the same rows
        else:
            assert after[name] == mtime, name  # not redone
    info = json.loads((tmp_path / "work" / "build_info.json").read_text())
    hits = info["engine_stats"]["cache_hits"]
    assert sent == info["engine_stats"]["calls"] and hits > 0
    # What a cold build sends (the test above checks it is exactly this): each request once. The
    # rerun saves what the first run had answered, and nothing more can be saved.
    candidates = datasets.load_dataset(str(tmp_path / "out"), "candidates", split="train")
    controls = sum(q["rater"]["pairs"] for q in info["quality"].values())
    cold = (
        sum(1 for r in candidates if r["candidates"])
        + sum(len(r["judgements"]) for r in candidates)
        + controls
    )
    assert cold - answered <= sent < cold
