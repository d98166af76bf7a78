"""The judge harness end to end: answers, references, both judge orders, report files, resume."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _engine_helpers import free_port, judged_answers

from builder.cli.eval import add_eval_arguments, config_from_args, main
from builder.engines import pick_engine
from builder.engines.base import Completion, Engine, EngineError
from builder.judge.harness import EngineSpec, Harness, HarnessConfig
from builder.judge.questions import load_questions

evaluate = pytest.importorskip("evaluate")

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def second_tiny_model_dir(tmp_path_factory, tiny_model_dir):
    """Another random tiny Llama (other seed), so the reference answers differ from the model's."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(1)
    model = LlamaForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    out = tmp_path_factory.mktemp("tiny-llama-2")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def read_records(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    ]


@pytest.mark.slow  # ~4 min on a busy 2-core CPU: 80 translations, 320 answers, 320 judgements
def test_end_to_end_on_vicuna80_with_a_tiny_model(
    tmp_path, shared_data, tiny_model_dir, second_tiny_model_dir, capsys
):
    out = tmp_path / "report"
    argv = [
        "--langs",
        "sw",
        "--questions",
        str(shared_data / "vicuna_bench" / "question.jsonl"),
        "--model",
        str(tiny_model_dir),
        "--engine",
        "transformers",
        "--reference-model",
        str(second_tiny_model_dir),
        "--reference-engine",
        "transformers",
        "--translate-model",
        str(tiny_model_dir),
        "--translate-engine",
        "transformers",
        "--judge-model",
        str(tiny_model_dir),
        "--judge-engine",
        "transformers",
        "--answer-max-tokens",
        "8",
        "--judge-max-tokens",
        "6",
        "--bootstrap",
        "200",
        "--output-dir",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    # A random model sometimes translates a question to nothing (which questions depends on the
    # CPU's float rounding); those are left out of the native setting, so count what was kept.
    native_ids = {
        json.loads(line)["question_id"]
        for line in (out / "questions.sw.jsonl").read_text(encoding="utf-8").splitlines()
    }
    pairs = {"en": 80, "native": len(native_ids)}
    judged = 2 * (pairs["en"] + pairs["native"])  # both orders of every pair
    sent, cached = map(
        int, re.search(rf"judge: {judged} requests, (\d+) sent, (\d+) reused", printed).groups()
    )
    # a random model often gives the same answer to different questions: equal prompts are sent once
    assert sent > 0 and sent + cached == judged

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    records = read_records(out)
    assert len(records) == pairs["en"] + pairs["native"]
    settings = [s for s in ("en", "native") if pairs[s]]
    assert {(r["setting"], r["lang"]) for r in records} == {(s, "sw") for s in settings}
    assert all(r["question_id"] in native_ids for r in records if r["setting"] == "native")
    for name in ("win_tie_loss.png", "language_fidelity.png", "answer_lengths.png"):
        data = (out / "plots" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"| sw | {s} |" in markdown for s in settings)

    # the report agrees with the evaluate metrics computed from its own records
    pairwise = evaluate.load(str(EVAL_DIR / "pairwise_judge"))
    fidelity = evaluate.load(str(EVAL_DIR / "language_fidelity"))
    for setting in settings:
        rows = [r for r in records if r["setting"] == setting]
        summary = report["results"]["sw"][setting]
        metric = pairwise.compute(
            questions=[r["question"] for r in rows],
            answers_a=[r["answer_a"] for r in rows],
            answers_b=[r["answer_b"] for r in rows],
            judgements=[r["judgement_ab"] for r in rows],
            judgements_swapped=[r["judgement_ba"] for r in rows],
            n_boot=200,
        )
        for key, value in metric.items():
            if key != "invalid_by_status":  # the report also knows the finish reasons
                assert summary[key] == value, key
        assert sum(summary["invalid_by_status"].values()) == summary["invalid_judgements"]
        # a random model cannot keep the judge's format: every judgement is invalid, none scored
        n = pairs[setting]
        assert (
            summary["pairs"] == n
            and summary["invalid_judgements"] == 2 * n
            and summary["win_rate"] is None
        )
        lid = fidelity.compute(answers=[r["answer_a"] for r in rows], lang="sw")
        assert summary["fidelity_a"]["fidelity"] == lid["fidelity"]
        assert summary["fidelity_a"]["undecided"] == lid["undecided"]

    # resume: the same command again sends nothing, and reports the same numbers
    assert main(argv) == 0
    assert f"judge: {judged} requests, 0 sent, {judged} reused" in capsys.readouterr().out
    again = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert again["results"] == report["results"]
    assert again["cost"]["model"]["calls"] == 0


class RuleJudge(Engine):
    """A judge for tests that reads the two answers in its prompt and prefers the longer one
    (or, with `position_bias`, always the first). Its decisions are known, so the harness's
    mapping of orders to systems can be checked exactly."""

    name = "rule-judge"

    def __init__(self, position_bias: bool = False):
        super().__init__("rule-judge")
        self.position_bias = position_bias
        self.seen: list[list[dict]] = []  # every prompt it was sent

    def _generate(self, prompts, params):
        out = []
        self.seen.extend(prompts)
        for messages in prompts:
            text = messages[1]["content"]
            first, second = judged_answers(text)
            if self.position_bias:
                scores = (9, 2)
            else:
                scores = (
                    (8, 3)
                    if len(first) > len(second)
                    else (3, 8)
                    if len(first) < len(second)
                    else (5, 5)
                )
            reply = f"<score1>{scores[0]}</score1> <score2>{scores[1]}</score2>"
            reply = (
                reply[len(messages[-1]["content"]) :]
                if messages[-1]["role"] == "assistant"
                else reply
            )
            out.append(
                Completion([reply], ["stop"], prompt_tokens=len(text) // 4, completion_tokens=12)
            )
        return out


def _config(tmp_path, **overrides) -> HarnessConfig:
    questions = load_questions(limit=6)
    refs = tmp_path / "refs.{lang}.jsonl"
    with open(tmp_path / "refs.fi.jsonl", "w", encoding="utf-8") as f:
        for i, q in enumerate(questions):  # reference answers of alternating length
            f.write(
                json.dumps(
                    {"question_id": q.question_id, "answer": "Vastaus. " * (1 if i % 2 else 30)}
                )
                + "\n"
            )
    with open(tmp_path / "q.fi.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(
                json.dumps(
                    {"question_id": q.question_id, "text": f"Kysymys {q.question_id}: miksi?"}
                )
                + "\n"
            )
    settings = dict(
        langs=["fi"],
        output_dir=str(tmp_path / "out"),
        questions="embedded",
        limit=6,
        model=EngineSpec("transformers", "tiny"),
        judge=EngineSpec("transformers", "rule"),
        reference_answers=str(refs),
        native_questions=str(tmp_path / "q.{lang}.jsonl"),
        answer_max_tokens=12,
        n_boot=100,
    )
    settings.update(overrides)
    return HarnessConfig(**settings)


def test_orders_are_mapped_back_to_the_systems(tmp_path, tiny_engine):
    config = _config(tmp_path)
    report = Harness(config, engines={"model": tiny_engine, "judge": RuleJudge()}).run()
    records = read_records(Path(config.output_dir))
    assert len(records) == 12
    for record in records:
        expected = (
            "win"
            if record["chars_a"] > record["chars_b"]
            else "loss"
            if record["chars_a"] < record["chars_b"]
            else "tie"
        )
        assert record["outcome"] == expected
        assert record["parsed_ab"]["status"] == record["parsed_ba"]["status"] == "ok"
        # the swapped judgement saw B first
        assert record["judgement_ab"] != record["judgement_ba"] or expected == "tie"
    for setting in ("en", "native"):
        summary = report["results"]["fi"][setting]
        rows = [r for r in records if r["setting"] == setting]
        assert summary["win_rate"] == pytest.approx(
            sum(r["chars_a"] > r["chars_b"] for r in rows) / 6, abs=1e-4
        )
        assert summary["consistency"] == 1.0 and summary["invalid_judgements"] == 0
    # the native setting asked the target-language question from the file
    assert {r["question"] for r in records if r["setting"] == "native"} == {
        f"Kysymys {i}: miksi?" for i in range(1, 7)
    }
    assert report["meta"]["judge"]["prefill"] is True  # a local judge is pre-filled by default
    assert (
        report["cost"]["judge"]["requests"] == 24 and report["cost"]["judge"]["prompt_tokens"] > 0
    )
    # a single-turn set: one turn per record, no per-turn split; categories are reported
    assert (
        "by_turn" not in report
        and "cost_by_turn" not in report
        and report["meta"]["max_turns"] == 1
    )
    assert all(r["turn"] == 1 and "context_a" not in r for r in records)
    categories = report["by_category"]["fi"]["en"]
    assert sum(part["pairs"] for part in categories.values()) == 6
    assert set(categories) == {r["category"] for r in records}
    assert "## By turn" not in (Path(config.output_dir) / "report.md").read_text(encoding="utf-8")


def test_a_position_biased_judge_gives_only_ties(tmp_path, tiny_engine):
    config = _config(tmp_path, settings=("en",))
    report = Harness(
        config, engines={"model": tiny_engine, "judge": RuleJudge(position_bias=True)}
    ).run()
    summary = report["results"]["fi"]["en"]
    assert summary["tie_rate"] == 1.0 and summary["consistency"] == 0.0
    assert summary["position1_preference"] == 1.0


def test_several_samples_are_all_judged_and_bootstrapped_by_question(tmp_path, tiny_engine):
    config = _config(tmp_path, settings=("en",), samples=3, answer_temperature=0.9)
    report = Harness(config, engines={"model": tiny_engine, "judge": RuleJudge()}).run()
    records = read_records(Path(config.output_dir))
    assert len(records) == 18 and sorted({r["sample"] for r in records}) == [0, 1, 2]
    summary = report["results"]["fi"]["en"]
    assert summary["pairs"] == 18 and summary["bootstrap"]["unit"] == "group"


def test_configuration_errors_name_the_fix(tmp_path, capsys):
    assert main(["--langs", "sw", "--output-dir", str(tmp_path)]) == 2
    assert "--reference-answers FILE" in capsys.readouterr().err
    assert (
        main(
            [
                "--langs",
                "sw",
                "--settings",
                "en,zero",
                "--reference-answers",
                "x",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "unknown settings ['zero']" in capsys.readouterr().err
    assert main(["--langs", "xx", "--reference-answers", "x", "--output-dir", str(tmp_path)]) == 2
    assert "unknown language code 'xx'" in capsys.readouterr().err
    assert (
        main(
            [
                "--langs",
                "sw",
                "--samples",
                "2",
                "--reference-answers",
                "x",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "temperature > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--langs", "sw", "--judge-format", "stars"])


# ----- multi-turn questions (MT-Bench) -----


def test_each_sample_continues_its_own_conversation(tmp_path, shared_data, tiny_engine):
    questions = load_questions(str(shared_data / "mt_bench" / "question.jsonl"), limit=2)
    refs = tmp_path / "refs.jsonl"  # FastChat's answer format: one answer per turn
    refs.write_text(
        "".join(
            json.dumps(
                {
                    "question_id": int(q.question_id),
                    "model_id": "ref",
                    "choices": [
                        {
                            "index": 0,
                            "turns": [f"Reference one for {q.question_id}. " * 3, "Reference two."],
                        }
                    ],
                }
            )
            + "\n"
            for q in questions
        ),
        encoding="utf-8",
    )
    config = HarnessConfig(
        langs=["fi"],
        output_dir=str(tmp_path / "out"),
        settings=("en",),
        questions=str(shared_data / "mt_bench" / "question.jsonl"),
        limit=2,
        samples=2,
        answer_temperature=0.9,
        answer_max_tokens=8,
        model=EngineSpec("transformers", "tiny"),
        judge=EngineSpec("transformers", "rule"),
        reference_answers=str(refs),
        n_boot=50,
    )
    judge = RuleJudge()
    report = Harness(config, engines={"model": tiny_engine, "judge": judge}).run()
    records = read_records(Path(config.output_dir))
    assert len(records) == 2 * 2 * 2  # questions x samples x turns
    for r in (r for r in records if r["turn"] == 2):
        first = next(
            x
            for x in records
            if (x["question_id"], x["sample"], x["turn"]) == (r["question_id"], r["sample"], 1)
        )
        # this sample's own turn-1 answer
        assert r["context_a"] == [[first["question"], first["answer_a"]]]
        assert r["context_b"] == [
            [first["question"], f"Reference one for {r['question_id']}. " * 3]
        ]
        assert r["answer_b"] == "Reference two."
    turn2_prompts = [m[1]["content"] for m in judge.seen if "<conversation1>" in m[1]["content"]]
    assert len(turn2_prompts) == 2 * 4  # both orders of the 4 turn-2 pairs
    assert all(questions[0].text in p or questions[1].text in p for p in turn2_prompts)
    assert report["by_turn"]["fi"]["en"]["2"]["pairs"] == 4
    assert report["results"]["fi"]["en"]["bootstrap"]["unit"] == "group"


# ----- engines: defaults, local names, unreachable servers -----


def test_engines_default_to_auto():
    args = add_eval_arguments(argparse.ArgumentParser()).parse_args(
        ["--langs", "sw", "--reference-model", "smollm2-135m"]
    )
    settings = config_from_args(args)
    assert (
        settings.engine,
        settings.reference_engine,
        settings.judge_engine,
        settings.translate_engine,
    ) == ("auto",) * 4
    config = settings.harness_config()
    # a local engine, here
    assert config.reference.engine == config.model.engine == pick_engine("auto")
    # a base URL says the model is served: auto means openai then
    assert EngineSpec("auto", "served-name", base_url="http://127.0.0.1:8000/v1").engine == "openai"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--reference-model", "smollm2-135m", "--reference-engine", "openai"],
            "--reference-model smollm2-135m is a local model; --reference-engine openai sends names to a server: "
            "use --reference-engine auto",
        ),
        (
            ["--reference-answers", "r.jsonl", "--engine", "openai"],
            "--model smollm2-135m is a local model; --engine openai sends names to a server: use --engine auto",
        ),
        (
            [
                "--reference-answers",
                "r.jsonl",
                "--judge-model",
                "smollm2-135m",
                "--judge-base-url",
                "http://127.0.0.1:9/v1",
            ],
            "--judge-model smollm2-135m is a local model; --judge-engine openai sends names to a server "
            "(--judge-base-url http://127.0.0.1:9/v1): drop --judge-base-url to run it here",
        ),
    ],
)
def test_a_local_model_never_goes_to_an_http_engine(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    start = time.monotonic()
    assert main(["--langs", "sw", "--output-dir", str(tmp_path), *argv]) == 2
    assert time.monotonic() - start < 2  # refused at start, before any request
    assert capsys.readouterr().err == f"x-instruction eval: error: {message}\n"


def test_a_local_folder_needs_a_server_that_serves_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    folder = tmp_path / "my-model"
    folder.mkdir()
    argv = [
        "--langs",
        "sw",
        "--output-dir",
        str(tmp_path),
        "--reference-answers",
        "r.jsonl",
        "--translate-model",
        str(folder),
        "--translate-engine",
        "openai",
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"x-instruction eval: error: --translate-model {folder} is a local folder; --translate-engine openai sends "
        "names to a server: use --translate-engine auto, or give --translate-base-url of a "
        "server that serves that folder\n"
    )
    # `transformers serve` names its models by folder: with that server's URL, the folder is a served name
    spec = EngineSpec("openai", str(folder), base_url="http://127.0.0.1:9/v1")
    spec.check_served_name("translate")


def _refused_argv(tmp_path) -> tuple[list[str], str]:
    url = f"http://127.0.0.1:{free_port()}/v1"  # a closed port
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"question_id": 1, "answer": "x"}) + "\n", encoding="utf-8")
    argv = [
        "--langs",
        "sw",
        "--settings",
        "en",
        "--limit",
        "1",
        "--output-dir",
        str(tmp_path / "out"),
        "--model",
        "answer-model",
        "--base-url",
        url,
        "--reference-answers",
        str(refs),
    ]
    line = (
        f"x-instruction eval: error: the model engine cannot reach {url}/chat/completions: connection refused "
        f"(nothing listens on that port); start that server, or point --base-url at the one that serves 'answer-model'"
    )
    return argv, line


def test_a_refused_connection_fails_at_once_with_one_line(tmp_path, capsys):
    argv, line = _refused_argv(tmp_path)
    start = time.monotonic()
    # the run's environment failed, not the input (errors.guard, as for build)
    assert main(argv) == 1
    assert time.monotonic() - start < 2  # no retries with backoff
    assert capsys.readouterr().err.splitlines()[-1] == line


def test_a_refused_connection_through_the_installed_command(tmp_path):
    argv, line = _refused_argv(tmp_path)
    command = Path(sys.executable).with_name("x-instruction")
    done = subprocess.run(
        [str(command), "eval", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 1
    assert done.stderr == line + "\n"  # one line, no traceback, no retry warnings


def test_an_unreachable_reference_names_its_flag(tmp_path, tiny_engine):
    url = f"http://127.0.0.1:{free_port()}/v1"
    config = HarnessConfig(
        langs=["sw"],
        output_dir=str(tmp_path),
        settings=("en",),
        limit=1,
        answer_max_tokens=4,
        model=EngineSpec("transformers", "tiny"),
        reference=EngineSpec("openai", "ref-model", url),
    )
    with pytest.raises(
        EngineError,
        match=rf"^the reference engine cannot reach {url}/chat/completions: connection "
        r"refused .*point --reference-base-url at the one that serves 'ref-model'$",
    ):
        Harness(config, engines={"model": tiny_engine}).run()
