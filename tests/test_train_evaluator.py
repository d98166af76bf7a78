"""The refine stage's rater: scored pairs, the builder's judgements, training and the refine contract."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from _trl_helpers import (
    INSTRUCTIONS,
    TEXTS,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    trained_text,
    write_jsonl,
    write_readme,
)
from datasets import Dataset

from builder.training.args import EvaluatorArguments
from builder.training.evaluator_data import load_evaluator_data, load_scored_pairs
from builder.training.formats import evaluator_reply

ROOT = Path(__file__).resolve().parents[1]


def scored_rows(n: int) -> list[dict]:
    return [
        {
            "lang": "sw",
            "instruction": INSTRUCTIONS["sw"][i % 6],
            "output": TEXTS["sw"][i % 6],
            "score": 1 + i % 5,
            "reason": f"Reason number {i}.",
        }
        for i in range(n)
    ]


def test_reply_is_what_the_refine_stage_parses():
    from builder.stages.refine import SCORE_PREFILL, parse_score_reply

    reply = evaluator_reply(4, "Answers the question,  but with extra text.")
    assert reply == "Score: 4\nReason: Answers the question, but with extra text."
    assert parse_score_reply(reply[len(SCORE_PREFILL) :]) == (
        4,
        "Answers the question, but with extra text.",
    )


def test_scored_file_skips_bad_scores_and_balances(tmp_path):
    rows = scored_rows(12) + [
        {**scored_rows(1)[0], "score": 7},
        {**scored_rows(1)[0], "score": 2.5},
    ]
    write_jsonl(tmp_path / "scored.jsonl", rows)
    pairs = load_scored_pairs(
        None, None, EvaluatorArguments(scores_file=str(tmp_path / "scored.jsonl"))
    )
    assert Counter(pairs["sw"]["score"]) == {
        1: 3,
        2: 3,
        3: 2,
        4: 2,
        5: 2,
    }  # 7 and 2.5 are not scores
    balanced = load_scored_pairs(
        None,
        None,
        EvaluatorArguments(scores_file=str(tmp_path / "scored.jsonl"), balance_scores=True),
    )
    assert Counter(balanced["sw"]["score"]) == {1: 2, 2: 2, 3: 2, 4: 2, 5: 2}


def test_judgements_of_a_build_become_examples(tmp_path):
    judgements = [
        {
            "round": 1,
            "instruction": "What is this?",
            "prompt_hash": "h",
            "raw": "Score: 2\nReason: Too vague.",
            "score": 2,
            "status": "ok",
        },
        {
            "round": 2,
            "instruction": INSTRUCTIONS["sw"][0],
            "prompt_hash": "h",
            "raw": "Score: 5\nReason: Exact.",
            "score": 5,
            "status": "retried",
        },
        {
            "round": 3,
            "instruction": "Unreadable",
            "prompt_hash": "h",
            "raw": "Score: great",
            "score": None,
            "status": "unparseable",
        },
        # a --refine-response rewrite was judged, not `text`: no example of `text` is made from it
        {
            "round": 3,
            "instruction": INSTRUCTIONS["sw"][0],
            "prompt_hash": "h",
            "raw": "Score: 1\nReason: Wrong.",
            "score": 1,
            "status": "ok",
            "response": "rewritten",
        },
    ]
    (tmp_path / "candidates").mkdir()
    Dataset.from_list(
        [{"id": "a", "lang": "sw", "text": TEXTS["sw"][0], "judgements": judgements}]
    ).to_parquet(str(tmp_path / "candidates" / "train-00000-of-00001.parquet"))
    write_readme(tmp_path, {"candidates": ["train"]})
    pairs = load_scored_pairs(str(tmp_path), "candidates", EvaluatorArguments(from_judgements=True))
    assert pairs["sw"].to_list() == [
        {
            "instruction": "What is this?",
            "text": TEXTS["sw"][0],
            "lang": "sw",
            "score": 2,
            "reason": "Too vague.",
        },
        {
            "instruction": INSTRUCTIONS["sw"][0],
            "text": TEXTS["sw"][0],
            "lang": "sw",
            "score": 5,
            "reason": "Exact.",
        },
    ]
    with pytest.raises(ValueError, match=r"lacks the column\(s\) instruction, output, score"):
        load_scored_pairs(str(tmp_path), "candidates", EvaluatorArguments())


def test_evaluator_trains_and_rates_as_the_refine_stage_asks(tmp_path, tiny_model_dir):
    from builder.engines import SamplingParams, create_engine
    from builder.prompts import evaluate_messages
    from builder.stages.refine import SCORE_PREFILL
    from builder.training.callbacks import generate_answers

    write_jsonl(tmp_path / "scored.jsonl", scored_rows(10))
    spec = importlib.util.spec_from_file_location(
        "train_evaluator", ROOT / "trl_scripts" / "train_evaluator.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "evaluator"
    parsed = script.make_parser().parse_args_and_config(
        args=[
            "--model_name_or_path",
            str(tiny_model_dir),
            "--scores_file",
            str(tmp_path / "scored.jsonl"),
            "--eval_size",
            "2",
            "--score_check_steps",
            "2",
            "--score_check_prompts",
            "2",
            "--output_dir",
            str(out),
            "--use_cpu",
            "--bf16",
            "false",
            "--activation_checkpointing",
            "false",
            "--dtype",
            "float32",
            "--max_steps",
            "2",
            "--max_length",
            "384",
            "--per_device_train_batch_size",
            "2",
            "--report_to",
            "none",
            "--save_strategy",
            "no",
        ]
    )
    trainer = script.main(*parsed)

    tokenizer = trainer.processing_class
    for row in trainer.train_dataset:
        trained = trained_text(tokenizer, row)
        assert (
            trained.startswith("Score: ")
            and trained.endswith(".<|im_end|>")
            and "\nReason: Reason number" in trained
        )
    checks = [h for h in trainer.state.log_history if "score_parsed" in h]
    assert [h["step"] for h in checks] == [0, 2]
    assert {"score_exact", "score_within_1"} <= set(checks[0])

    engine = create_engine("transformers", str(out), progress=False)
    prompt = evaluate_messages(INSTRUCTIONS["sw"][0], TEXTS["sw"][0], "sw") + [
        {"role": "assistant", "content": SCORE_PREFILL}
    ]
    reply = engine.generate([prompt], SamplingParams(max_new_tokens=8))[0].text
    # The score check during training sees exactly what the refine stage will get from this model.
    assert reply == generate_answers(engine.model, engine.tokenizer, [prompt], 8, 1)[0]
    assert "Scored pairs (rater training data)" in (out / "README.md").read_text()


def test_evaluator_data_errors(tmp_path):
    with pytest.raises(ValueError, match="pass --scores_file .* or --dataset_name"):
        load_evaluator_data(None, None, EvaluatorArguments())
    write_jsonl(tmp_path / "bad.jsonl", [{**scored_rows(1)[0], "score": 9}])
    with pytest.raises(ValueError, match="no scored pair with a score from 1 to 5"):
        load_evaluator_data(None, None, EvaluatorArguments(scores_file=str(tmp_path / "bad.jsonl")))
