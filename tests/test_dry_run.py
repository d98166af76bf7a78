"""`x-instruction build --dry-run`: a pilot through the real stages, projected to the requested
sizes (documents of the corpus, --project-kept pairs per language), and the bad inputs that
leave nothing to project. The models are canned (the throughput stub, a scripted server, a
scripted engine): these tests check the pilot's accounting and the projection's arithmetic,
not what any model writes."""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path

import pytest
from _engine_helpers import Reply, ScriptedServer, completion_body
from _scripted_engine import ScriptedEngine, last_user

from builder.cli import main
from builder.config import BuildConfig
from builder.pipeline.dry_run import dry_run
from builder.pipeline.projection import duration
from builder.quality.rater import CONTROL_PAIRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_throughput import write_corpus  # noqa: E402
from stub_server import StubServer  # noqa: E402


def _number(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return int(match.group(1).replace(",", ""))


def _block(report: str, title: str) -> str:
    """The lines of one projected size, from its title line to the next blank line."""
    start = report.index(title)
    end = report.find("\n\n", start)
    return report[start:] if end < 0 else report[start:end]


def _pilot(report: str) -> dict[str, int]:
    return {
        "requests": _number(r"pilot cost: ([\d,]+) model requests", report),
        "controls": _number(r"\(([\d,]+) of them the rater's controls", report),
        "prompt": _number(r"requests \([^)]*\), ([\d,]+) prompt", report),
        "generated": _number(r"prompt \+ ([\d,]+) generated tokens; ", report),
        "pool": _number(r"; ([\d,]+) pairs kept before clustering", report),
    }


def _dry_run(tmp_path: Path, *args: str) -> list[str]:
    return [
        "build",
        "--dry-run",
        *args,
        "--work-dir",
        str(tmp_path / "work"),
        "--output-dir",
        str(tmp_path / "out"),
    ]


def test_projects_the_corpus_and_a_kept_target_from_a_pilot_through_the_cli(tmp_path, capsys):
    write_corpus(tmp_path / "corpus", ["sw", "fi"], 16)  # 8 texts a language
    # --min-relevance 0: the stub's questions are canned (topics picked by a hash of the prompt),
    # unrelated to their text by construction, so the relevance gate would only judge noise;
    # the default gate runs in test_build_e2e (the embedded model) and on true pairs in
    # test_any_language's Yoruba builds.
    args = _dry_run(
        tmp_path,
        "--langs",
        "sw,fi",
        "--corpus",
        str(tmp_path / "corpus"),
        "--pilot-docs",
        "4",
        "--engine",
        "openai",
        "--model",
        "smollm2-135m",
        "--min-relevance",
        "0",
        "--accept-score",
        "1",
        "--project-kept",
        "1000",
        "--project-tokens-per-s",
        "5000",
        "--pipeline-requests-per-s",
        "50",
    )
    with StubServer() as stub:
        assert main([*args, "--base-url", stub.url]) == 0
        sent = stub.stats()["completions"]
    report = capsys.readouterr().out
    pilot = _pilot(report)
    assert pilot["requests"] == sent  # the pilot's count is what the server answered
    # --accept-score 1: the rater accepts every pair in round 1, so each language scores at
    # least two controls (one per accepted pair, below CONTROL_PAIRS)
    assert 4 <= pilot["controls"] <= 8 and pilot["pool"] >= 4

    # The corpus: 8 documents a language, twice the pilot's 4. Per-document work doubles, and so
    # do the controls (one per accepted pair until CONTROL_PAIRS): everything doubles exactly.
    corpus = _block(
        report, "the corpus's documents (counted): 8 documents per language x 2 language(s) = 16"
    )
    assert f"model requests: {2 * pilot['requests']:,}\n" in corpus
    tokens = 2 * (pilot["prompt"] + pilot["generated"])
    assert (
        f"tokens:         {2 * pilot['prompt']:,} prompt + {2 * pilot['generated']:,} generated = {tokens:,}"
        in corpus
    )
    assert (
        f"model time:     {duration(tokens / 5000)} at 5,000 prompt + generated tokens/s" in corpus
    )
    assert "your assumption for the serving fleet, not a measurement" in corpus
    assert f"pipeline time:  {duration(2 * pilot['requests'] / 50)} at 50 requests/s" in corpus

    # 1,000 pairs a language at the pilot's keep rate; now the controls stop at CONTROL_PAIRS.
    per_lang = math.ceil(1000 * 8 / pilot["pool"])
    kept = _block(
        report,
        f"--project-kept 1,000 pairs per language (at the pilot's {pilot['pool'] / 8:.3f} pairs",
    )
    assert (
        f": {per_lang:,} documents per language x 2 language(s) = {2 * per_lang:,} documents read"
        in kept
    )
    requests = (pilot["requests"] - pilot["controls"]) / 8 * 2 * per_lang + 2 * CONTROL_PAIRS
    assert f"model requests: {requests:,.0f}\n" in kept
    model_s, pipeline_s = _number(r"= ([\d,]+)\n", kept) / 5000, requests / 50
    assert f"binds:          {'the model' if model_s >= pipeline_s else 'the pipeline'}" in kept
    assert re.search(
        r"disk: +work dir [\d.,]+ [KMG]iB \(shards [\d.,]+ [KMG]iB, request cache", kept
    )

    assert not (tmp_path / "out").exists()  # a dry run exports nothing
    assert list((tmp_path / "work").iterdir()) == []  # and leaves no pilot behind


def _scripted_reply(prompt, params, k):
    """Every pair is accepted; each text gets distinct, well-formed questions."""
    if prompt[-1]["role"] == "assistant":  # the evaluator, pre-filled with "Score:"
        return " 5\nReason: answers it."
    tag = int(hashlib.sha256(last_user(prompt).encode()).hexdigest(), 16) % 9973
    return f"How do I plan a family trip to the coast in season {tag} with option {k}?"


def test_projection_scales_every_request_and_token_of_the_pilot(tmp_path):
    """A scripted engine reports 10 prompt tokens a request, so every token count is known."""
    engine = ScriptedEngine(_scripted_reply)
    config = BuildConfig(
        langs=["sw", "fi"],
        corpus="embedded",
        max_docs=10,
        pilot_docs=2,
        candidates=2,
        rounds=2,
        model="scripted",
        work_dir=str(tmp_path / "work"),
        output_dir=str(tmp_path / "out"),
    )
    report = dry_run(config, engines={"scripted": engine})
    pilot = _pilot(report)
    assert pilot["requests"] == engine.stats.calls and pilot["prompt"] == 10 * engine.stats.calls
    assert report.startswith(
        "pilot: 4 documents read (2 per language asked, 2 language(s)), scripted-model on "
    )
    assert "--candidates 2 --rounds 2" in report
    corpus = _block(
        report,
        "the corpus's documents (--max-docs 10): 10 documents per language x 2 language(s) = 20",
    )
    # five times the pilot's documents; the controls are one per accepted pair: also five times
    projected = 5 * pilot["requests"]
    assert f"model requests: {projected:,}\n" in corpus
    assert f"tokens:         {10 * projected:,} prompt + " in corpus


def test_empty_corpus_says_there_is_nothing_to_project(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "sw.jsonl").write_text("")
    # No model is loaded and no server asked: the port below answers nothing.
    args = _dry_run(
        tmp_path,
        "--langs",
        "sw",
        "--corpus",
        str(tmp_path / "corpus"),
        "--engine",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--project-kept",
        "100",
    )
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("x-instruction: error: nothing to project: the corpus ")
        and "no texts for sw" in err
    )
    assert "--corpus" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_every_pilot_text_dropped_by_cleaning_says_there_is_nothing_to_project(tmp_path, capsys):
    (tmp_path / "sw.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in ("Habari.", "Ndiyo.", "Asante."))
    )
    args = _dry_run(
        tmp_path,
        "--langs",
        "sw",
        "--corpus",
        str(tmp_path / "sw.jsonl"),
        "--engine",
        "openai",
        "--model",
        "smollm2-135m",
    )
    with StubServer() as stub:
        assert main([*args, "--base-url", stub.url]) == 2
        assert stub.stats()["completions"] == 0
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]  # after the encoders' loading bars
    assert line.startswith(
        "x-instruction: error: nothing to project: cleaning dropped all 3 documents of the pilot"
    )
    assert "too_short 3" in line and "--min-tokens" in line and "Traceback" not in err


def test_a_pilot_that_keeps_no_pair_still_projects_the_documents(tmp_path, capsys):
    """The model answers "1" to everything: no valid instruction, no pair kept."""
    write_corpus(tmp_path / "corpus", ["sw"], 6)
    args = _dry_run(
        tmp_path,
        "--langs",
        "sw",
        "--corpus",
        str(tmp_path / "corpus"),
        "--pilot-docs",
        "3",
        "--engine",
        "openai",
        "--model",
        "smollm2-135m",
        "--project-kept",
        "32000",
    )
    with ScriptedServer([Reply(body=completion_body(["1"] * 4))]) as server:
        assert main([*args, "--base-url", server.url]) == 0
    out = capsys.readouterr().out
    assert "no_valid_instruction" in out
    assert (
        "cannot project --project-kept 32,000: the pilot kept 0 pairs of its 3 documents (see its funnel above); "
        "raise --pilot-docs (e.g. --pilot-docs 20)"
    ) in out
    corpus = _block(
        out, "the corpus's documents (counted): 6 documents per language x 1 language(s) = 6"
    )
    pilot = _pilot(out)
    assert f"model requests: {2 * pilot['requests']:,}\n" in corpus


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--project-kept", "0", "project_kept must be >= 1, got 0"),
        ("--project-tokens-per-s", "0", "project_tokens_per_s must be > 0, got 0.0"),
        ("--pipeline-requests-per-s", "-1", "pipeline_requests_per_s must be > 0, got -1.0"),
    ],
)
def test_a_bad_projection_setting_is_one_line(flag, value, message, tmp_path, capsys):
    assert main(_dry_run(tmp_path, flag, value)) == 2
    assert capsys.readouterr().err == f"x-instruction: error: {message}\n"
