"""What SFT trains on: label masks of both formats, chat templates for base models (tiny model)."""

from __future__ import annotations

import shutil

import pytest
from _trl_helpers import (
    TEXTS,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    trained_text,
    write_export,
)

from builder.training.args import XInstructionArguments
from builder.training.chat_template import chatml_training_template
from builder.training.run import build_trainer
from builder.training.sft_data import load_sft_data


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return str(write_export(tmp_path_factory.mktemp("export"), {"sw": 4, "bn": 2}))


def sft_args(output_dir, **overrides):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        max_steps=1,
        max_length=256,
        report_to="none",
        **overrides,
    )


def model_args(path, **overrides):
    from trl import ModelConfig

    return ModelConfig(model_name_or_path=str(path), dtype="float32", **overrides)


def make_trainer(export, model_dir, tmp_path, fmt, **sft_overrides):
    data = load_sft_data(export, XInstructionArguments(languages="sw,bn", prompt_format=fmt))
    return build_trainer(
        model_args(model_dir),
        sft_args(tmp_path / "out", **sft_overrides),
        data.train,
        data.eval,
        prompt_format=fmt,
        training_data=data.card,
    )


@pytest.mark.parametrize("fmt", ["chat", "prompt_completion"])
def test_only_the_response_and_eos_are_trained(export, tiny_model_dir, tmp_path, fmt):
    trainer = make_trainer(export, tiny_model_dir, tmp_path, fmt)
    tokenizer = trainer.processing_class
    assert tokenizer.eos_token == "<|im_end|>"
    rows = list(trainer.train_dataset)
    assert len(rows) == 6
    for row in rows:
        # Recover the response from the row's own input ids, independently of the labels.
        text = tokenizer.decode(row["input_ids"])
        response = next(t for t in TEXTS[row["lang"]] if t in text)
        assert trained_text(tokenizer, row) == response + "<|im_end|>"
        language = {"sw": "Swahili", "bn": "Bengali"}[row["lang"]]
        if fmt == "chat":
            # the model's own template, default system turn
            assert text.startswith("<|im_start|>system\n")
            assert text.endswith(
                f"?\nAnswer in {language}.<|im_end|>\n<|im_start|>assistant\n{response}<|im_end|>\n"
            )
        else:  # plain text: exactly the prompt, then the response and EOS, no template
            assert row["prompt"].endswith(f"?\nAnswer in {language}.\n")
            assert text == row["prompt"] + response + "<|im_end|>"


def test_chat_format_without_a_template_asks_for_one(export, tiny_model_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink()
    with pytest.raises(
        ValueError,
        match="has no chat template, which the 'chat' format needs.*--chat_template_path",
    ):
        make_trainer(export, base, tmp_path, "chat")
    # A plain-text run needs no template, and refuses one it would not use.
    assert len(make_trainer(export, base, tmp_path, "prompt_completion").train_dataset) == 6
    with pytest.raises(
        ValueError, match="--chat_template_path only applies to --prompt_format chat"
    ):
        make_trainer(
            export, base, tmp_path, "prompt_completion", chat_template_path=str(tiny_model_dir)
        )


@pytest.mark.parametrize("source", ["clone", "jinja"])
def test_a_base_model_gets_a_template(export, tiny_model_dir, tmp_path, source):
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink()
    if source == "clone":  # TRL's clone_chat_template, from a tokenizer folder
        path = str(tiny_model_dir)
    else:  # a Jinja file that already has {% generation %} markers
        path = str(tmp_path / "chatml.jinja")
        (tmp_path / "chatml.jinja").write_text(chatml_training_template(None), encoding="utf-8")
    trainer = make_trainer(export, base, tmp_path, "chat", chat_template_path=path)
    tokenizer = trainer.processing_class
    for row in trainer.train_dataset:
        text = tokenizer.decode(row["input_ids"])
        response = next(t for t in TEXTS[row["lang"]] if t in text)
        assert trained_text(tokenizer, row) == response + "<|im_end|>"
    if source == "jinja":  # no default system turn: the file's template is used as written
        assert tokenizer.decode(trainer.train_dataset[0]["input_ids"]).startswith(
            "<|im_start|>user\n"
        )


def test_jinja_template_with_unknown_tokens_is_refused(export, tiny_model_dir, tmp_path):
    path = tmp_path / "other.jinja"
    path.write_text(
        "{% for m in messages %}<|turn|>{{ m['content'] }}<|end_turn|>{% endfor %}",
        encoding="utf-8",
    )
    with pytest.raises(
        ValueError, match=r"uses <\|end_turn\|>, <\|turn\|>, which the tokenizer does not have"
    ):
        make_trainer(export, tiny_model_dir, tmp_path, "chat", chat_template_path=str(path))


def test_unmarkable_template_is_a_clear_error(export, tiny_model_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").write_text(
        "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
        encoding="utf-8",
    )
    with pytest.raises(
        ValueError, match="cannot find the assistant turns.*--prompt_format prompt_completion"
    ):
        make_trainer(export, base, tmp_path, "chat")


def test_eval_requested_without_held_out_rows(export, tiny_model_dir, tmp_path):
    with pytest.raises(
        ValueError, match="--eval_strategy steps needs held-out rows: set --eval_size"
    ):
        make_trainer(export, tiny_model_dir, tmp_path, "chat", eval_strategy="steps", eval_steps=1)


def test_resume_from_checkpoint_values(tmp_path):
    from builder.training.modeling import resolve_checkpoint

    with pytest.raises(
        ValueError, match="--resume_from_checkpoint last: no checkpoint-\\* folder in"
    ):
        resolve_checkpoint("last", str(tmp_path))
    # preemptible jobs: fresh start when none
    assert resolve_checkpoint("auto", str(tmp_path)) is None
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    assert resolve_checkpoint("last", str(tmp_path)) == str(tmp_path / "checkpoint-10")
    assert resolve_checkpoint(None, str(tmp_path)) is None
    with pytest.raises(ValueError, match="no such folder"):
        resolve_checkpoint(str(tmp_path / "checkpoint-99"), str(tmp_path))
