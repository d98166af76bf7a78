"""The backward model: seed pairs from files and parallel datasets, training, and the contract
with the builder's generate stage (`--generator PATH`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _trl_helpers import (
    INSTRUCTIONS,
    TEXTS,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    trained_text,
    write_bactrian_like,
    write_jsonl,
)

from builder.training.args import GeneratorArguments
from builder.training.generator_data import load_generator_data
from builder.training.seeds import load_seed_pairs

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "trl_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bactrian(tmp_path_factory):
    return str(write_bactrian_like(tmp_path_factory.mktemp("bactrian"), ["sw", "bn"], n=4))


def test_parallel_dataset_is_joined_on_id(bactrian):
    pairs = load_seed_pairs(bactrian, GeneratorArguments(instruction_config="en", languages="all"))
    # the English config is the instruction side, not a language to train
    assert list(pairs) == ["sw", "bn"]
    sw = pairs["sw"]
    assert len(sw) == 4  # the orphan row with no English counterpart is skipped
    assert sw[0] == {"text": TEXTS["sw"][0], "instruction": INSTRUCTIONS["sw"][0], "lang": "sw"}
    # Alpaca-style `input` is appended
    assert sw[1]["instruction"] == INSTRUCTIONS["sw"][1] + "\nBe brief."


def test_parallel_dataset_with_a_wrong_join_column(bactrian):
    with pytest.raises(
        ValueError, match=r"config 'en' of .* lacks the column\(s\) row_id .*--join_column"
    ):
        load_seed_pairs(
            bactrian,
            GeneratorArguments(instruction_config="en", languages="sw", join_column="row_id"),
        )


def test_seed_files(tmp_path):
    rows = [{"instruction": INSTRUCTIONS["sw"][i], "output": TEXTS["sw"][i]} for i in range(3)]
    write_jsonl(tmp_path / "seeds" / "sw.jsonl", rows)
    pairs = load_seed_pairs(
        None, GeneratorArguments(seed_file=str(tmp_path / "seeds" / "{lang}.jsonl"), languages="sw")
    )
    assert pairs["sw"]["text"] == TEXTS["sw"][:3]

    mixed = [{**r, "lang": "sw"} for r in rows] + [
        {"instruction": "What is the capital of Finland?", "output": TEXTS["fi"][0], "lang": "fi"}
    ]
    write_jsonl(tmp_path / "all.jsonl", mixed)
    pairs = load_seed_pairs(None, GeneratorArguments(seed_file=str(tmp_path / "all.jsonl")))
    assert {code: len(d) for code, d in pairs.items()} == {"fi": 1, "sw": 3}
    with pytest.raises(
        ValueError, match=r"\(lang == 'bn'\) has no rows: .*the file has languages: fi, sw"
    ):
        load_seed_pairs(
            None, GeneratorArguments(seed_file=str(tmp_path / "all.jsonl"), languages="bn")
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed_file": "seeds.txt"}, "unsupported extension"),
        ({"seed_file": "missing.jsonl"}, "no such file"),
        ({}, "pass --seed_file .* or --dataset_name"),
    ],
)
def test_bad_seed_sources(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_seed_pairs(None, GeneratorArguments(**kwargs))


def test_seed_file_without_the_needed_columns(tmp_path):
    write_jsonl(
        tmp_path / "s.jsonl", [{"question": "Why?", "answer": TEXTS["sw"][0], "lang": "sw"}]
    )
    with pytest.raises(
        ValueError, match=r"lacks the column\(s\) output, instruction .*--response_column"
    ):
        load_seed_pairs(None, GeneratorArguments(seed_file=str(tmp_path / "s.jsonl")))


def test_generator_trains_and_plugs_into_the_generate_stage(bactrian, tiny_model_dir, tmp_path):
    from builder.engines import SamplingParams, create_engine
    from builder.prompts import generator_messages, generator_prompt

    out = tmp_path / "generator"
    script = load_script("train_generator")
    parsed = script.make_parser().parse_args_and_config(
        args=[
            "--model_name_or_path",
            str(tiny_model_dir),
            "--dataset_name",
            bactrian,
            "--instruction_config",
            "en",
            "--languages",
            "sw,bn",
            "--eval_size",
            "1",
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
            "256",
            "--per_device_train_batch_size",
            "2",
            "--learning_rate",
            "1e-3",
            "--report_to",
            "none",
            "--save_strategy",
            "no",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "2",
        ]
    )
    trainer = script.main(*parsed)

    tokenizer = trainer.processing_class
    # the loss covers the English instruction (+ end of turn) only
    for row in trainer.train_dataset:
        text = tokenizer.decode(row["input_ids"])
        assert generator_prompt(TEXTS[row["lang"]][0], row["lang"]).split("\n")[0] in text
        assert trained_text(tokenizer, row) in {
            i + "<|im_end|>" for i in INSTRUCTIONS[row["lang"]]
        } | {i + "\nBe brief.<|im_end|>" for i in INSTRUCTIONS[row["lang"]]}
    assert any("eval_loss" in h for h in trainer.state.log_history)

    # The contract of `x-instruction build --generator PATH`: the folder loads as an engine, and the
    # generator prompt goes in as one user chat message.
    engine = create_engine("transformers", str(out), progress=False)
    prompt = generator_messages(TEXTS["sw"][2], "sw")
    assert prompt == [{"role": "user", "content": generator_prompt(TEXTS["sw"][2], "sw")}]
    completion = engine.generate([prompt], SamplingParams(max_new_tokens=8))[0]
    assert completion.completion_tokens >= 1 and completion.finish_reasons[0] in ("stop", "length")
    assert (
        "Seed pairs (target-language text -> English instruction)"
        in (out / "README.md").read_text()
    )


def test_generator_language_check_expects_english(bactrian):
    data = load_generator_data(
        bactrian, GeneratorArguments(instruction_config="en", languages="sw", eval_size=2)
    )
    from builder.training.generator_data import generator_probes

    probes = generator_probes(data, GeneratorArguments(language_check_prompts=5))
    assert (
        len(probes) == 2
        and {p.expected for p in probes} == {"en"}
        and {p.group for p in probes} == {"sw"}
    )
    assert probes[0].prompt[0]["content"].startswith("Below is a text in Swahili.")
