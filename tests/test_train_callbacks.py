"""The language-share callback: how answers are counted, and that it sees a model learn a language."""

from __future__ import annotations

import pytest
from _trl_helpers import (
    TEXTS,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    pair_rows,
    write_config,
    write_jsonl,
    write_readme,
)

from builder.publish.messages import answer_messages
from builder.training.callbacks import LanguageShareCallback, Probe, language_shares
from builder.training.probes import answer_probes, read_instructions


def test_shares_count_matches_and_undecided_answers_per_group():
    probes = [Probe("q", "sw", "sw")] * 3 + [Probe("q", "bn", "bn"), Probe("q", "en", "bn")]
    answers = [
        TEXTS["sw"][0],  # Swahili: counts
        "The heavy rain last night flooded many streets in the city until the morning.",  # English: does not
        "Ndiyo.",  # too short for language ID: undecided, and not counted as Swahili
        TEXTS["bn"][0],  # Bengali script decides it even when short
        "What is the capital of Bangladesh and why is it so crowded?",  # an English answer where English is expected
    ]
    logs = language_shares(answers, probes)
    assert logs["lang_share/sw"] == pytest.approx(1 / 3) and logs[
        "lang_undecided/sw"
    ] == pytest.approx(1 / 3)
    assert logs["lang_share/bn"] == 1.0 and logs["lang_undecided/bn"] == 0.0
    assert logs["lang_share"] == pytest.approx(3 / 5) and logs["lang_undecided"] == pytest.approx(
        1 / 5
    )


def test_probes_from_held_out_rows_or_a_file(tmp_path, shared_data):
    held_out = {"sw": ["Why is the sky blue?", "Name a river."], "bn": []}
    probes = answer_probes(held_out, ["sw"], "chat", per_language=1)
    assert probes == [
        Probe([{"role": "user", "content": "Why is the sky blue?\nAnswer in Swahili."}], "sw", "sw")
    ]
    with pytest.raises(
        ValueError, match="needs held-out English instructions for 'bn': set --eval_size"
    ):
        answer_probes(held_out, ["sw", "bn"], "chat", per_language=1)

    # Vicuna-80's question file: every language is asked the same questions.
    vicuna = str(shared_data / "vicuna_bench" / "question.jsonl")
    probes = answer_probes(
        {}, ["sw", "bn"], "prompt_completion", per_language=2, instructions_file=vicuna
    )
    assert [p.prompt for p in probes[:2]] == [
        "How can I improve my time management skills?\nAnswer in Swahili.\n",
        "What are the most effective ways to deal with stress?\nAnswer in Swahili.\n",
    ]
    assert [p.group for p in probes] == ["sw", "sw", "bn", "bn"]


def test_instruction_files(tmp_path):
    (tmp_path / "q.txt").write_text("First question?\n\nSecond question?\n", encoding="utf-8")
    assert read_instructions(str(tmp_path / "q.txt")) == ["First question?", "Second question?"]
    write_jsonl(tmp_path / "q.jsonl", [{"instruction": "A?"}, {"prompt": "B?"}])
    assert read_instructions(str(tmp_path / "q.jsonl")) == ["A?", "B?"]
    write_jsonl(tmp_path / "bad.jsonl", [{"answer": "no question here"}])
    with pytest.raises(ValueError, match="row 0: no instruction/question/prompt/text field"):
        read_instructions(str(tmp_path / "bad.jsonl"))


@pytest.mark.slow  # 40 optimizer steps of the tiny model (a minute on a busy 2-core machine)
def test_the_check_sees_a_model_learn_to_answer_in_swahili(tiny_model_dir, tmp_path):
    from trl import ModelConfig, SFTConfig

    from builder.training.args import XInstructionArguments
    from builder.training.run import build_trainer, language_check
    from builder.training.sft_data import load_sft_data, sft_probes

    rows = pair_rows("sw", 10)
    for row in rows:  # one answer to learn, long enough for language ID to be sure
        row["output"] = TEXTS["sw"][0]
        # what training reads
        row["messages"] = answer_messages(row["instruction"], row["output"], "sw")
    write_config(tmp_path / "export", "sw", {"train": rows})
    write_readme(tmp_path / "export", {"sw": ["train"]})
    x_args = XInstructionArguments(
        languages="sw",
        eval_size=2,
        language_check_steps=20,
        language_check_prompts=2,
        language_check_max_new_tokens=24,
    )
    data = load_sft_data(str(tmp_path / "export"), x_args)
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        max_steps=40,
        learning_rate=5e-3,
        lr_scheduler_type="constant",
        per_device_train_batch_size=4,
        max_length=128,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
    )
    trainer = build_trainer(
        ModelConfig(model_name_or_path=str(tiny_model_dir), dtype="float32"),
        args,
        data.train,
        None,
        prompt_format="chat",
        training_data=data.card,
        probes=sft_probes(data, x_args),
        check_args=x_args,
    )
    trainer.train()

    check = language_check(trainer)
    assert isinstance(check, LanguageShareCallback)
    steps = [step for step, _ in check.history]
    assert steps == [0, 20, 40]
    assert check.history[0][1]["lang_share/sw"] == 0.0  # a random model does not answer in Swahili
    assert check.history[-1][1]["lang_share/sw"] == 1.0  # after learning the answer, it does
    logged = [h for h in trainer.state.log_history if "lang_share/sw" in h]
    assert [h["step"] for h in logged] == [0, 20, 40]
    assert [h["step"] for h in trainer.state.log_history if "loss" in h] == [
        10,
        20,
        30,
        40,
    ]  # training logs intact
