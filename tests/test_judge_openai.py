"""The judge (and the answerer and reference) through the OpenAI-compatible engine, over real
HTTP against a small local server on 127.0.0.1 that speaks /v1/chat/completions.

The server's replies are canned but depend on the request: the judge model scores the answer
that contains "GOOD" higher, wherever it stands in the prompt, so the expected rates are known.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip(
    "builder.engines.openai_engine", reason="the openai engine is not in this checkout yet"
)

from _engine_helpers import ChatServer, judged_answers  # noqa: E402

from builder.cli.eval import main  # noqa: E402
from builder.engines import create_engine  # noqa: E402
from builder.languages.lid import detect, matches  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"
GOOD_ANSWER = (
    "GOOD. Mvua hunyesha wakati mawingu yanapojaa maji mengi na matone yanakuwa mazito sana."
)
PLAIN_ANSWER = "Hili ni jibu fupi la kawaida."


def _reply(model: str, messages: list[dict]) -> str | None:
    if model == "judge-model":
        return _judge(messages[-1]["content"])
    return {"answer-model": GOOD_ANSWER, "reference-model": PLAIN_ANSWER}.get(model)


def _judge(prompt: str) -> str:
    first, second = judged_answers(prompt)
    if "[[tie]]" in prompt:  # verdict format
        verdict = (
            "1"
            if "GOOD" in first and "GOOD" not in second
            else "2"
            if "GOOD" in second and "GOOD" not in first
            else "tie"
        )
        return f"One answer explains the cause in Swahili.\n[[{verdict}]]"
    score = lambda answer: 9 if "GOOD" in answer else 3  # noqa: E731
    return f"<score1>{score(first)}</score1> <score2>{score(second)}</score2>"


@pytest.fixture()
def server():
    # 20 ms per request: long enough for concurrent requests to overlap
    with ChatServer(_reply, delay=0.02) as httpd:
        yield httpd


def test_metric_with_the_openai_engine_as_judge(server):
    import evaluate

    judge = create_engine("openai", "judge-model", base_url=server.base_url)
    pairwise = evaluate.load(str(EVAL_DIR / "pairwise_judge"))
    questions = [f"Swali la {i}: kwa nini mvua hunyesha?" for i in range(10)]
    answers_a = [GOOD_ANSWER if i < 7 else PLAIN_ANSWER for i in range(10)]
    answers_b = [PLAIN_ANSWER] * 10
    result = pairwise.compute(
        questions=questions, answers_a=answers_a, answers_b=answers_b, judge=judge, lang="sw"
    )
    # 10 pairs x 2 orders; where both answers are the same text the two orders are the same
    # prompt, which is sent once
    assert len(server.requests) == 7 * 2 + 3
    assert all(r["temperature"] == 0 for r in server.requests)  # the judge decodes greedily
    assert (
        result["win_rate"] == 0.7
        and result["tie_rate"] == 0.3
        and result["invalid_judgements"] == 0
    )
    assert result["consistency"] == 1.0
    assert server.max_in_flight > 1  # one batch goes out as concurrent requests


def test_harness_over_http_for_every_role(server, tmp_path, capsys):
    out = tmp_path / "report"
    argv = [
        "--langs",
        "sw",
        "--settings",
        "en",
        "--limit",
        "9",
        "--output-dir",
        str(out),
        "--model",
        "answer-model",
        "--engine",
        "openai",
        "--base-url",
        server.base_url,
        "--reference-model",
        "reference-model",
        "--reference-engine",
        "openai",
        "--reference-base-url",
        server.base_url,
        "--judge-model",
        "judge-model",
        "--judge-engine",
        "openai",
        "--judge-base-url",
        server.base_url,
        "--bootstrap",
        "200",
    ]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    summary = report["results"]["sw"]["en"]
    assert (
        summary["pairs"] == 9
        and summary["win_rate"] == 1.0
        and summary["win_rate_ci"] == [1.0, 1.0]
    )
    assert summary["mean_score_a"] == 9 and summary["mean_score_b"] == 3
    # an API judge is not pre-filled: its prompt ends with the user's turn
    judge_requests = [r for r in server.requests if r["model"] == "judge-model"]
    assert len(judge_requests) == 18 and all(
        r["messages"][-1]["role"] == "user" for r in judge_requests
    )
    assert report["meta"]["judge"]["prefill"] is False
    # the judge's cost is what the server reported
    judge_cost = report["cost"]["judge"]
    expected_tokens = sum(
        sum(len(m["content"].split()) for m in r["messages"]) for r in judge_requests
    )
    assert judge_cost["calls"] == 18 and judge_cost["prompt_tokens"] == expected_tokens
    expected_fidelity = float(matches(detect(GOOD_ANSWER), "sw"))
    assert summary["fidelity_a"]["fidelity"] == expected_fidelity
    # rerun: everything comes from the cache, nothing goes over the wire
    before = len(server.requests)
    assert main(argv) == 0
    assert len(server.requests) == before
    assert "judge: 18 requests, 0 sent, 18 reused" in capsys.readouterr().out


def test_verdict_format_over_http(server, tmp_path):
    out = tmp_path / "verdict"
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        "".join(json.dumps({"question_id": i, "answer": PLAIN_ANSWER}) + "\n" for i in range(1, 5))
    )
    argv = [
        "--langs",
        "sw",
        "--settings",
        "en",
        "--limit",
        "4",
        "--output-dir",
        str(out),
        "--bootstrap",
        "100",
        "--model",
        "reference-model",
        "--engine",
        "openai",
        "--base-url",
        server.base_url,
        "--reference-answers",
        str(refs),
        "--judge-format",
        "verdict",
        "--judge-model",
        "judge-model",
        "--judge-engine",
        "openai",
        "--judge-base-url",
        server.base_url,
    ]
    assert main(argv) == 0
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))["results"]["sw"]["en"]
    # the same answer on both sides
    assert summary["tie_rate"] == 1.0 and summary["invalid_judgements"] == 0


def test_an_unknown_judge_model_fails_with_the_servers_message(server, tmp_path):
    from builder.engines.base import EngineError

    judge = create_engine("openai", "no-such-model", base_url=server.base_url, max_retries=0)
    from builder.judge.judging import run_judge

    with pytest.raises(EngineError, match="no-such-model"):
        run_judge(
            judge,
            [[{"role": "user", "content": "<answer1>\na\n</answer1><answer2>\nb\n</answer2>"}]],
            "scores",
            prefill=False,
        )
