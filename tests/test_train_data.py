"""Training data: language configs, validation errors, held-out rows, mixing weights, model names (no training)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from _trl_helpers import pair_rows, write_config, write_export, write_readme

from builder.languages import UnknownLanguageError
from builder.training.args import GeneratorArguments, XInstructionArguments
from builder.training.data import hold_out, load_language, resolve_languages
from builder.training.mixing import parse_weights, target_counts
from builder.training.seeds import load_seed_pairs
from builder.training.sft_data import load_sft_data, sft_probes


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    # sw has a test split; bn and fi do not.
    return str(
        write_export(tmp_path_factory.mktemp("export"), {"sw": 12, "bn": 6, "fi": 9}, {"sw": 3})
    )


def args(**overrides) -> XInstructionArguments:
    return XInstructionArguments(**overrides)


def test_all_means_every_language_config_and_skips_the_rest(export):
    # not "all"
    assert [lang.code for lang in resolve_languages(export, "all")] == ["sw", "bn", "fi"]
    assert [lang.code for lang in resolve_languages(export, "bn, sw")] == ["bn", "sw"]


def test_unknown_language_code_names_the_known_ones(export):
    with pytest.raises(
        UnknownLanguageError, match=r"unknown language code 'xx'.*Known: bn, fi, hi"
    ):
        resolve_languages(export, "sw,xx")


def test_language_the_dataset_lacks_lists_its_configs(export):
    with pytest.raises(
        ValueError, match=r"has no config for 'ta'; its language configs are: sw, bn, fi"
    ):
        resolve_languages(export, "sw,ta")


def test_missing_columns_are_named(tmp_path):
    # An export by a builder before 0.2.0 has no `messages`: the error says how to get it.
    rows = [{"id": "1", "lang": "sw", "instruction": "Why?", "text": "Kwa sababu."}]
    write_config(tmp_path, "sw", {"train": rows}, features=None)
    write_readme(tmp_path, {"sw": ["train"]})
    with pytest.raises(
        ValueError,
        match=r"config 'sw' of .* lacks the column\(s\) messages \(it has: id, lang, "
        r"instruction, text\).*builders before 0.2.0 lack it: run the same "
        r"`x-instruction build` again",
    ):
        load_language(str(tmp_path), "sw")


def test_empty_config_is_an_error(tmp_path):
    write_config(tmp_path, "sw", {"train": []})
    write_readme(tmp_path, {"sw": ["train"]})
    with pytest.raises(
        ValueError,
        match=r"config 'sw' of .* has a split with no rows .*: the build kept no pair for "
        r"this language; leave it out of --languages \(`all` skips empty languages\)",
    ):
        load_language(str(tmp_path), "sw")


def test_blank_pairs_are_dropped_and_all_blank_is_an_error(tmp_path):
    rows = pair_rows("sw", 3)
    rows[0]["messages"][1]["content"] = "   "  # a blank response
    write_config(tmp_path, "sw", {"train": rows})
    write_readme(tmp_path, {"sw": ["train"]})
    assert len(load_language(str(tmp_path), "sw").train) == 2
    with pytest.raises(ValueError, match="after dropping empty pairs and applying --min_score"):
        load_language(str(tmp_path), "sw", min_score=6)


def test_held_out_rows_come_from_the_test_split_or_are_split_off(export):
    sw = load_language(export, "sw", eval_size=2)  # has a test split: eval_size is not used
    assert (len(sw.train), len(sw.eval)) == (12, 3)
    bn = load_language(export, "bn", eval_size=2)
    assert (len(bn.train), len(bn.eval)) == (4, 2)
    assert not set(bn.train["id"]) & set(bn.eval["id"])
    assert load_language(export, "bn").eval is None


def test_a_language_too_small_for_eval_size_holds_out_fewer_rows(export, caplog):
    bn = load_language(export, "bn", eval_size=6)  # 6 rows: one stays for training
    assert (len(bn.train), len(bn.eval)) == (1, 5)
    assert "has 6 row(s): holding out 5 instead of 6 (--eval_size)" in caplog.text
    one_row = load_language(export, "bn", eval_size=2).train.select([0])
    train, held = hold_out(one_row, 2, seed=0, where="one row")
    assert len(train) == 1 and held is None  # nothing to spare: it all trains


def test_min_score_filters(export):
    kept = load_language(export, "sw", min_score=5).train
    assert len(kept) == 4 and set(kept["score"]) == {5}


def test_unweighted_mixture_uses_every_row_once(export):
    data = load_sft_data(export, args(languages="sw,bn,fi"))
    assert Counter(data.train["lang"]) == {"sw": 12, "bn": 6, "fi": 9}
    assert len(set(data.train["id"])) == 27


def test_weights_set_each_languages_share_without_repeating(export):
    # sw:bn = 3:1 -> the largest mixture that repeats nothing is limited by sw (12 rows = 3/4).
    data = load_sft_data(export, args(languages="sw,bn", language_weights="sw=3,bn=1"))
    assert Counter(data.train["lang"]) == {"sw": 12, "bn": 4}
    assert len(set(data.train["id"])) == 16  # drawn without repetition
    assert data.card.rows == {"sw": 12, "bn": 4}


def test_mixture_size_upsamples_a_small_language(export):
    data = load_sft_data(
        export, args(languages="sw,bn", language_weights={"sw": 1, "bn": 1}, mixture_size=30)
    )
    counts = Counter(data.train["lang"])
    assert counts == {"sw": 15, "bn": 15}
    bn_ids = Counter(i for i, lang in zip(data.train["id"], data.train["lang"]) if lang == "bn")
    assert sorted(bn_ids.values()) == [
        2,
        2,
        2,
        3,
        3,
        3,
    ]  # 15 = 2 full copies of 6 + 3 drawn at random


def test_zero_weight_leaves_a_language_out(export):
    data = load_sft_data(export, args(languages="sw,bn", language_weights="sw=1,bn=0"))
    assert Counter(data.train["lang"]) == {"sw": 12}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sw:1", "is not CODE=WEIGHT"),
        ("sw=much", "must be a number"),
        ("sw=-1", "must be >= 0"),
        ("sw=0,bn=0", "all language weights are 0"),
        ("xx=1", "unknown language code 'xx'"),
    ],
)
def test_bad_weights(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_weights(spec)


def test_weights_must_cover_the_training_languages():
    with pytest.raises(ValueError, match="no weight for bn"):
        target_counts({"sw": 5, "bn": 5}, {"sw": 1.0}, None)
    with pytest.raises(ValueError, match="fi, which are not among the training languages"):
        target_counts({"sw": 5}, {"sw": 1.0, "fi": 1.0}, None)
    with pytest.raises(ValueError, match="--mixture_size needs --language_weights"):
        target_counts({"sw": 5}, None, 10)


def test_formats_follow_the_papers_prompt(export):
    chat = load_sft_data(export, args(languages="sw"))
    row = next(r for r in chat.train if r["id"] == "sw-0000")
    assert row["messages"] == [
        {
            "role": "user",
            "content": "What happened in the city after last night's heavy rain?\nAnswer in Swahili.",
        },
        {
            "role": "assistant",
            "content": "Mvua kubwa ilinyesha jana usiku na barabara nyingi za mji zilijaa maji hadi "
            "asubuhi.",
        },
    ]
    plain = load_sft_data(export, args(languages="sw", prompt_format="prompt_completion"))
    row = next(r for r in plain.train if r["id"] == "sw-0000")
    assert (
        row["prompt"]
        == "What happened in the city after last night's heavy rain?\nAnswer in Swahili.\n"
    )
    assert row["completion"].startswith("Mvua kubwa")


def test_missing_dataset_name_and_bad_format():
    with pytest.raises(ValueError, match="pass --dataset_name"):
        load_sft_data(None, args())
    with pytest.raises(ValueError, match="unknown prompt format 'alpaca'"):
        args(prompt_format="alpaca")


def test_a_re_exported_folder_is_read_fresh(tmp_path):
    # datasets 5.2 alone would return the first export's rows for the second (see data.local_cache_dir).
    folder = tmp_path / "x-instruction"
    write_export(folder, {"sw": 8})
    assert len(load_sft_data(str(folder), args(languages="sw")).train) == 8
    import shutil

    shutil.rmtree(folder)
    write_export(folder, {"sw": 5})
    assert len(load_sft_data(str(folder), args(languages="sw")).train) == 5


# -- the export of a real build: some languages empty, some smaller than --eval_size ----------------


@pytest.mark.parametrize("variant", ["no config", "0-row config"])
def test_all_skips_an_empty_language_and_shrinks_eval_size(demo_exports, variant, caplog):
    caplog.set_level(logging.INFO)
    # the smoke recipe's numbers
    options = args(eval_size=2, language_check_steps=4, language_check_prompts=2)
    data = load_sft_data(demo_exports[variant], options)
    # vi kept no pair; sw 2 rows -> 1 trains, 1 held out
    assert data.card.rows == {"sw": 1, "fi": 1}
    assert data.card.eval_rows == {"sw": 1, "fi": 0}  # fi's one row trains
    assert len(data.eval) == 1
    skipped = {
        "no config": "Skipping vi: built but not exported",
        "0-row config": "Skipping vi: its config has no rows",
    }
    assert skipped[variant] in caplog.text
    assert "config 'sw' of" in caplog.text and "holding out 1 instead of 2" in caplog.text
    probes = sft_probes(data, options)  # the language check asks sw only, and says fi is left out
    assert {p.expected for p in probes} == {"sw"}
    assert "The language check leaves out fi: no held-out row" in caplog.text


@pytest.mark.parametrize(
    "variant, message",
    [
        (
            "no config",
            r"has no config for 'vi' \(its build kept no pair\); its language configs are: ",
        ),
        (
            "0-row config",
            r"config 'vi' of .* has a split with no rows .*leave it out of --languages",
        ),
    ],
)
def test_an_empty_language_named_explicitly_is_an_error(demo_exports, variant, message):
    with pytest.raises(ValueError, match=message):
        load_sft_data(demo_exports[variant], args(languages="sw,vi"))


def test_no_eval_and_no_language_check_when_no_language_can_spare_a_row(demo_exports, caplog):
    data = load_sft_data(demo_exports["no config"], args(languages="fi", eval_size=2))
    assert data.eval is None and data.card.rows == {"fi": 1}
    assert sft_probes(data, args(languages="fi", eval_size=2)) is None
    assert "the language check is off for this run" in caplog.text
    with pytest.raises(
        ValueError, match="the language check needs held-out English instructions for 'fi'"
    ):
        sft_probes(data, args(languages="fi"))  # no --eval_size: the user's to fix


def test_an_export_with_no_rows_at_all(tmp_path):
    write_config(tmp_path, "sw", {"train": []})
    write_config(tmp_path, "fi", {"train": []})
    write_readme(tmp_path, {"sw": ["train"], "fi": ["train"]})
    with pytest.raises(
        ValueError, match=r"has no rows to train on: every language config is empty \(sw, fi\)"
    ):
        load_sft_data(str(tmp_path), args())


def test_generator_seeds_from_the_build_skip_the_empty_language(demo_exports):
    pairs = load_seed_pairs(demo_exports["0-row config"], GeneratorArguments())
    assert {code: len(rows) for code, rows in pairs.items()} == {"sw": 2, "fi": 1}


def test_a_missing_dataset_folder_fails_at_once(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"--dataset_name x-instruction-data: no such folder .*pass the "
        r"folder `x-instruction build` wrote",
    ):
        load_sft_data("x-instruction-data", args())
    with pytest.raises(
        ValueError, match=r"--dataset_name org/x-instruction: Couldn't reach .*pass a local export"
    ):
        # HF_HUB_OFFLINE=1 (conftest): the offline user's case
        load_sft_data("org/x-instruction", args())


def test_model_names_resolve_as_the_builder_resolves_them(embedded_model_dir, tiny_model_dir):
    from transformers import AutoConfig
    from trl import ModelConfig

    from builder.training.modeling import base_model_path

    # HF_HUB_OFFLINE=1 (conftest)
    path = base_model_path(ModelConfig(model_name_or_path="smollm2-135m"))
    assert path == str(embedded_model_dir)
    # the converted folder, no download
    assert AutoConfig.from_pretrained(path).model_type == "llama"
    assert base_model_path(ModelConfig(model_name_or_path=str(tiny_model_dir))) == str(
        tiny_model_dir
    )
    assert (
        base_model_path(ModelConfig(model_name_or_path="Qwen/Qwen2.5-7B-Instruct"))
        == "Qwen/Qwen2.5-7B-Instruct"
    )
    with pytest.raises(ValueError, match="unknown model 'smollm2'"):
        base_model_path(ModelConfig(model_name_or_path="smollm2"))
    with pytest.raises(FileNotFoundError, match="model path './no-such-model' does not exist"):
        base_model_path(ModelConfig(model_name_or_path="./no-such-model"))
