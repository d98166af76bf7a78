"""--refine-response through the CLI: the published `score` describes the published `output`.

The scripted rewriter answers every rewrite request with the text and a Swahili opening; the
scripted rater scores that rewrite above the original for some texts and below it for others.
The build must publish the rewrite only where it scored no lower, with the rewrite's score, and
keep both judgements in the audit config."""

from __future__ import annotations

import hashlib

from _cli_build import build_args, cli, published, read_json
from _scripted_engine import last_user
from helpers.pipeline import writer_and_judge

OPENING = "Hili ni jibu lililoandikwa upya kwa ajili yako. "


def _rewrite_wins(text: str) -> bool:
    """Which texts the rater prefers rewritten: a fixed half of them, by hash."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 2 == 0


def rewriter(prompt, params, k):
    content = last_user(prompt)
    if content.startswith("Rewrite the"):
        return OPENING + content.split("Text:\n", 1)[1]
    if prompt[-1]["role"] == "assistant":  # the rater, pre-filled with "Score:"
        response = content.split("Response:\n", 1)[1].split("\n\nHow well", 1)[0]
        if response.startswith(OPENING):
            return (
                " 5\nReason: a direct answer."
                if _rewrite_wins(response[len(OPENING) :])
                else " 1\nReason: garbled."
            )
    return writer_and_judge(prompt, params, k)


def test_refine_response_publishes_the_better_scored_text_with_its_score(tmp_path, capsys):
    run = cli(
        build_args(tmp_path, "embedded", "sw", "--max-docs", "8", "--refine-response"),
        capsys,
        reply=rewriter,
    )
    assert run.code == 0, run.err
    audit = {row["id"]: row for row in published(tmp_path / "out", "candidates")}
    outcomes = []
    for row in audit.values():
        if row["dropped"] in ("no_valid_instruction", "unparseable_judgement"):
            continue
        original = [j for j in row["judgements"] if j["response"] == "original"]
        rewrite = [j for j in row["judgements"] if j["response"] == "rewritten"]
        best = max(j["score"] for j in original)
        assert len(rewrite) == 1 and rewrite[0]["instruction"] == row["instruction"]
        assert rewrite[0]["round"] == row["rounds"] == original[-1]["round"]
        if rewrite[0]["score"] >= best:
            assert row["output"] == OPENING + row["text"] and row["score"] == rewrite[0]["score"]
        else:
            assert row["output"] == row["text"] and row["score"] == best
        outcomes.append(
            "higher"
            if rewrite[0]["score"] > best
            else "lower"
            if rewrite[0]["score"] < best
            else "tie"
        )
    assert {"higher", "lower"} <= set(outcomes), outcomes  # both cases happened
    rows = published(tmp_path / "out", "sw")
    assert all(
        r["output"] == audit[r["id"]]["output"] and r["score"] == audit[r["id"]]["score"]
        for r in rows
    )
    # rewrites and originals published
    assert {r["output"].startswith(OPENING) for r in rows} == {True, False}
    assert read_json(tmp_path / "out" / "build_info.json")["settings"]["refine_response"] is True
