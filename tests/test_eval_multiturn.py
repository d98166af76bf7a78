"""MT-Bench's two turns through `x-instruction eval`, over real HTTP against a small local
OpenAI-compatible server that records every request, so the conversations actually sent can
be checked message by message.

The server's models answer from what they are sent: the model under test writes a GOOD first
answer and a weak second one, the reference the other way round, and the judge scores the
answer holding "GOOD" higher wherever it stands. So turn 1 is a win and turn 2 a loss, exactly.
"""

from __future__ import annotations

import json
import re

import pytest
from _engine_helpers import ChatServer, judged_answers

from builder.cli.eval import main
from builder.prompts import answer_prompt

MT_BENCH_LIMIT = 3


def _reply_text(model: str, messages: list[dict]) -> str | None:
    users = [m["content"] for m in messages if m["role"] == "user"]
    turn, last = len(users), users[-1]
    # names its turn and the question it answers, so each answer is distinct
    if model == "answer-model":
        return f"{'GOOD' if turn == 1 else 'weak'} answer {turn} to: {last[:60].strip()}"
    if model == "reference-model":
        return f"{'plain' if turn == 1 else 'GOOD'} reference {turn} to: {last[:60].strip()}"
    if model == "translate-model":
        return "Swali: " + last.rsplit("\n\n", 1)[-1]
    if model == "judge-model":
        first, second = judged_answers(last)
        score = lambda answer: 9 if "GOOD" in answer else 3  # noqa: E731
        return f"<score1>{score(first)}</score1> <score2>{score(second)}</score2>"
    return None


@pytest.fixture()
def server():
    with ChatServer(_reply_text) as httpd:
        yield httpd


def _argv(server, shared_data, out) -> list[str]:
    # only base URLs, no engine flags: with a base URL the default engine (auto) is openai
    return [
        "--langs",
        "sw",
        "--questions",
        str(shared_data / "mt_bench" / "question.jsonl"),
        "--limit",
        str(MT_BENCH_LIMIT),
        "--output-dir",
        str(out),
        "--bootstrap",
        "100",
        "--model",
        "answer-model",
        "--base-url",
        server.base_url,
        "--reference-model",
        "reference-model",
        "--reference-base-url",
        server.base_url,
        "--translate-model",
        "translate-model",
        "--translate-base-url",
        server.base_url,
        "--judge-model",
        "judge-model",
        "--judge-base-url",
        server.base_url,
    ]


def _sent(server, model: str) -> list[list[dict]]:
    return [r["messages"] for r in server.requests if r["model"] == model]


def test_mt_bench_two_turns_over_http(server, shared_data, tmp_path, capsys):
    out = tmp_path / "mt"
    questions = [
        json.loads(line)
        for line in (shared_data / "mt_bench" / "question.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()[:MT_BENCH_LIMIT]
    ]
    assert main(_argv(server, shared_data, out)) == 0
    printed = capsys.readouterr().out
    records = [
        json.loads(line)
        for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))

    # both turns of both settings are records: 3 questions x 2 settings x 2 turns
    assert len(records) == 12
    assert sorted((r["setting"], r["turn"]) for r in records) == sorted(
        (s, t) for s in ("en", "native") for t in (1, 2) for _ in range(MT_BENCH_LIMIT)
    )

    # the native setting translated both turns, one request per turn
    assert len(_sent(server, "translate-model")) == 2 * MT_BENCH_LIMIT
    native = {
        json.loads(line)["question_id"]: json.loads(line)
        for line in (out / "questions.sw.jsonl").read_text(encoding="utf-8").splitlines()
    }
    for q in questions:
        assert native[str(q["question_id"])]["turns"] == [f"Swali: {t}" for t in q["turns"]]

    # turn 2 is asked inside each system's own conversation: turn 1, its own answer, turn 2
    model_sent, reference_sent = _sent(server, "answer-model"), _sent(server, "reference-model")
    assert len(model_sent) == len(reference_sent) == 12
    for r in records:
        if r["turn"] != 2:
            continue
        first = next(
            x
            for x in records
            if (x["setting"], x["question_id"], x["turn"]) == (r["setting"], r["question_id"], 1)
        )
        turns = [first["question"], r["question"]]
        for side, sent in (("a", model_sent), ("b", reference_sent)):
            expected = [
                {"role": "user", "content": answer_prompt(turns[0], "sw")},
                {"role": "assistant", "content": first[f"answer_{side}"]},
                {"role": "user", "content": answer_prompt(turns[1], "sw")},
            ]
            assert expected in sent, (r["question_id"], r["setting"], side)
            assert r[f"context_{side}"] == [[turns[0], first[f"answer_{side}"]]]
        assert r["answer_a"].startswith("weak answer 2") and r["answer_b"].startswith(
            "GOOD reference 2"
        )
    q81 = next(r for r in records if (r["setting"], r["question_id"], r["turn"]) == ("en", "81", 2))
    assert q81["question"] == questions[0]["turns"][1]
    # turn 1 is the single-turn prompt, unchanged
    assert [
        {"role": "user", "content": answer_prompt(questions[0]["turns"][0], "sw")}
    ] in model_sent

    # the judge saw each side's conversation before the turn-2 answers it judged
    judge_sent = _sent(server, "judge-model")
    assert len(judge_sent) == 2 * 12
    later = [m[-1]["content"] for m in judge_sent if "<conversation1>" in m[-1]["content"]]
    assert len(later) == 12  # the turn-2 pairs, both orders
    ab = next(p for p in later if q81["answer_a"] in p.split("<answer1>")[1].split("</answer1>")[0])
    conversation1 = ab.split("<conversation1>")[1].split("</conversation1>")[0]
    conversation2 = ab.split("<conversation2>")[1].split("</conversation2>")[0]
    assert questions[0]["turns"][0] in conversation1 and q81["context_a"][0][1] in conversation1
    assert q81["context_b"][0][1] in conversation2
    assert f"<question>\n{questions[0]['turns'][1]}\n</question>" in ab

    # per turn: the model wins turn 1 and loses turn 2; pooled it is half and half
    for setting in ("en", "native"):
        by_turn = report["by_turn"]["sw"][setting]
        assert by_turn["1"]["win_rate"] == 1.0 and by_turn["1"]["pairs"] == MT_BENCH_LIMIT
        assert by_turn["2"]["loss_rate"] == 1.0 and by_turn["2"]["pairs"] == MT_BENCH_LIMIT
        pooled = report["results"]["sw"][setting]
        assert (
            pooled["win_rate"] == pooled["loss_rate"] == 0.5
            and pooled["bootstrap"]["unit"] == "group"
        )
        assert report["by_category"]["sw"][setting]["writing"]["pairs"] == 2 * MT_BENCH_LIMIT
    assert report["meta"]["max_turns"] == 2
    for turn in ("1", "2"):
        cost = report["cost_by_turn"][turn]
        assert (
            cost["model"]["requests"] == cost["reference"]["requests"] == 6
            and cost["judge"]["requests"] == 12
        )
        assert (
            f"turn {turn}: 6 records; requests: model 6 (6 sent), reference 6 (6 sent), judge 12 (12 sent)"
            in printed
        )
    # pooled row of the summary table
    assert re.search(r"\nsw +en +all +50\.0% +0\.0% +50\.0%", printed)
    assert re.search(r"\nsw +en +2 +0\.0% +0\.0% +100\.0%", printed)  # the turn-2 row
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert (
        "## By turn" in markdown
        and "| sw | en | 2 | 0.0%" in markdown
        and "| sw | en | writing |" in markdown
    )

    # rerun: every request of both turns comes from the cache
    before = len(server.requests)
    assert main(_argv(server, shared_data, out)) == 0
    assert len(server.requests) == before
