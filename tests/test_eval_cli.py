"""`x-instruction eval`'s flags are generated from EvalConfig (builder/judge/config.py), as build's
are from BuildConfig, and every command reports failures with one exit-code policy
(builder/errors.py: 2 bad input, 1 a failure of the run's environment, the network included)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _engine_helpers import free_port

from builder.cli import make_parser
from builder.cli.eval import config_from_args
from builder.cli.eval import main as eval_main
from builder.judge.config import EvalConfig

FIELDS = dataclasses.fields(EvalConfig)


def _eval_parser() -> argparse.ArgumentParser:
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["eval"]


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each option by its first long flag (`--judge-prefill`, not its `--no-judge-prefill`)."""
    return {
        next(s for s in a.option_strings if s.startswith("--")): a
        for a in parser._actions
        if a.option_strings
    }


def test_the_eval_flags_are_exactly_evalconfigs_fields():
    options = _options(_eval_parser())
    expected = {"--" + f.name.replace("_", "-") for f in FIELDS}
    assert set(options) - {"--help", "--config"} == expected
    for field in FIELDS:
        action = options["--" + field.name.replace("_", "-")]
        assert action.dest == field.name
        assert action.help == field.metadata["help"] and action.help.strip()
        assert action.choices == field.metadata.get("choices")
        assert action.default is argparse.SUPPRESS  # the default lives in EvalConfig, once


def test_python_m_builder_judge_has_the_same_flags_and_its_verbose(capsys):
    with pytest.raises(SystemExit) as done:
        eval_main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ["--config", "-v, --verbose", *("--" + f.name.replace("_", "-") for f in FIELDS)]:
        assert flag in out


# The defaults the hand-written flags had before EvalConfig: the generated ones must not move them.
OLD_DEFAULTS = {
    "settings": ["en", "native"],
    "questions": "embedded",
    "questions_split": "train",
    "questions_config": None,
    "native_questions": None,
    "limit": None,
    "model": "smollm2-135m",
    "engine": "auto",
    "base_url": None,
    "samples": 1,
    "temperature": 0.0,
    "answer_max_tokens": 512,
    "seed": 0,
    "batch_size": 16,
    "concurrency": 8,
    "reference_answers": "r.jsonl",
    "reference_model": None,
    "reference_engine": "auto",
    "reference_base_url": None,
    "translate_model": None,
    "translate_engine": "auto",
    "translate_base_url": None,
    "judge_model": None,
    "judge_engine": "auto",
    "judge_base_url": None,
    "judge_format": "scores",
    "judge_prefill": None,
    "judge_max_tokens": None,
    "judge_batch_size": 64,
    "tie_rule": "sum",
    "partial": "exclude",
    "bootstrap": 1000,
    "confidence": 0.95,
    "output_dir": "eval-report",
    "cache": "",
    "no_cache": False,
    "langs": ["sw"],
}


def test_defaults_are_the_old_flags_defaults():
    args = _eval_parser().parse_args(["--langs", "sw", "--reference-answers", "r.jsonl"])
    assert dataclasses.asdict(config_from_args(args)) == OLD_DEFAULTS


def test_every_flag_reaches_the_harness():
    argv = [
        "--langs",
        "sw,bn",
        "--settings",
        "native",
        "--questions",
        "q.jsonl",
        "--questions-split",
        "test",
        "--questions-config",
        "c",
        "--native-questions",
        "n.{lang}.jsonl",
        "--limit",
        "3",
        "--model",
        "m",
        "--engine",
        "transformers",
        "--samples",
        "2",
        "--temperature",
        "0.5",
        "--answer-max-tokens",
        "7",
        "--seed",
        "4",
        "--batch-size",
        "5",
        "--concurrency",
        "6",
        "--reference-answers",
        "r.jsonl",
        "--translate-model",
        "t",
        "--judge-model",
        "j",
        "--judge-engine",
        "transformers",
        "--judge-format",
        "verdict",
        "--no-judge-prefill",
        "--judge-max-tokens",
        "9",
        "--judge-batch-size",
        "2",
        "--tie-rule",
        "agree",
        "--partial",
        "single",
        "--bootstrap",
        "11",
        "--confidence",
        "0.9",
        "--output-dir",
        "o",
        "--no-cache",
    ]
    run = config_from_args(_eval_parser().parse_args(argv)).harness_config()
    assert (run.langs, run.settings, run.questions, run.questions_split, run.questions_config) == (
        ["sw", "bn"],
        ("native",),
        "q.jsonl",
        "test",
        "c",
    )
    assert (
        run.native_questions,
        run.limit,
        run.samples,
        run.answer_temperature,
        run.answer_max_tokens,
        run.seed,
    ) == ("n.{lang}.jsonl", 3, 2, 0.5, 7, 4)
    assert (run.model.engine, run.model.model, run.model.batch_size, run.model.concurrency) == (
        "transformers",
        "m",
        5,
        6,
    )
    assert (
        run.judge.engine,
        run.judge.model,
        run.translate.model,
        run.reference,
        run.reference_answers,
    ) == ("transformers", "j", "t", None, "r.jsonl")
    assert (run.judge_format, run.judge_prefill, run.judge_max_tokens, run.judge_batch_size) == (
        "verdict",
        False,
        9,
        2,
    )
    assert (run.rule, run.partial, run.n_boot, run.confidence, run.output_dir, run.cache) == (
        "agree",
        "single",
        11,
        0.9,
        "o",
        None,
    )


def test_a_yaml_file_gives_the_options_and_flags_win(tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text(
        "langs: sw,fi\nsettings: en\nreference-answers: r.jsonl\njudge_format: verdict\nsamples: 1\n"
    )
    args = _eval_parser().parse_args(["--config", str(config), "--judge-format", "scores"])
    settings = config_from_args(args)
    assert (settings.langs, settings.settings, settings.judge_format) == (
        ["sw", "fi"],
        ["en"],
        "scores",
    )


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        (
            "langs: sw\nreference_answers: r.jsonl\nsamples: two\n",
            "{f}: samples must be a whole number, got 'two' (text)",
        ),
        (
            "langs: sw\nreference_answers: r.jsonl\njudge_engine: gpt\n",
            "{f}: judge_engine must be one of auto, transformers, vllm, openai, got 'gpt'",
        ),
        (
            "langs: sw\nreference_answers: r.jsonl\njudge: m\n",
            "{f}: unknown option(s) judge; known: langs, settings",
        ),
        (
            "reference_answers: r.jsonl\n",
            "--langs is required: target languages: 'sw,bn' or 'all' (the paper's ten)",
        ),
    ],
)
def test_a_bad_option_is_one_line_with_exit_2(tmp_path, capsys, yaml_text, message):
    config = tmp_path / "eval.yaml"
    config.write_text(yaml_text)
    assert eval_main(["--config", str(config), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"x-instruction eval: error: {message.format(f=config)}")
        and err.count("\n") == 1
    ), err
    assert not (tmp_path / "out").exists()


def test_no_langs_without_a_config_names_the_flag(tmp_path, capsys):
    assert eval_main(["--reference-answers", "r.jsonl"]) == 2
    assert capsys.readouterr().err == (
        "x-instruction eval: error: --langs is required: target languages: 'sw,bn' "
        "or 'all' (the paper's ten)\n"
    )


# ----- one exit-code policy, through the installed command -----


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("x-instruction")
    return subprocess.run(
        [str(command), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.fixture
def eval_inputs(tmp_path) -> list[str]:
    (tmp_path / "ref.jsonl").write_text(json.dumps({"question_id": 1, "answer": "Jibu."}) + "\n")
    return [
        "eval",
        "--langs",
        "sw",
        "--settings",
        "en",
        "--limit",
        "1",
        "--reference-answers",
        "ref.jsonl",
        "--output-dir",
        "ev",
    ]


@pytest.fixture
def build_inputs(tmp_path) -> list[str]:
    (tmp_path / "c.jsonl").write_text(
        json.dumps(
            {
                "text": "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. "
                "Wote wamejaliwa akili na dhamiri."
            }
        )
        + "\n"
    )
    return ["build", "--langs", "sw", "--corpus", "c.jsonl", "--work-dir", "w", "--output-dir", "o"]


@pytest.mark.parametrize("command", ["eval", "build"])
def test_a_server_down_exits_1_for_every_command(tmp_path, request, command):
    """The network failed, not the input: eval exited 2 here, every other command 1."""
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = _run(
        [*request.getfixturevalue(f"{command}_inputs"), "--model", "served", "--base-url", url],
        tmp_path,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "cannot reach http://127.0.0.1:" in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command, flag", [("eval", ["--bootstrap", "0"]), ("build", ["--rounds", "0"])]
)
def test_bad_input_exits_2_for_every_command(tmp_path, request, command, flag):
    done = _run([*request.getfixturevalue(f"{command}_inputs"), *flag], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    name = flag[0][2:]
    assert done.stderr.splitlines() == [
        f"x-instruction{' eval' * (command == 'eval')}: error: {name} must be >= 1, got 0"
    ]
