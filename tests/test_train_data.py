"""Training data: language configs, validation errors, held-out rows, mixing weights (no model)."""

from __future__ import annotations

from collections import Counter

import pytest

from builder.languages import UnknownLanguageError
from builder.training.args import XInstructionArguments
from builder.training.data import load_language, resolve_languages
from builder.training.mixing import parse_weights, target_counts
from builder.training.sft_data import load_sft_data

from _trl_helpers import pair_rows, write_config, write_export, write_readme


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    # sw has a test split; bn and fi do not.
    return str(write_export(tmp_path_factory.mktemp("export"), {"sw": 12, "bn": 6, "fi": 9}, {"sw": 3}))


def args(**overrides) -> XInstructionArguments:
    return XInstructionArguments(**overrides)


def test_all_means_every_language_config_and_skips_the_rest(export):
    assert [lang.code for lang in resolve_languages(export, "all")] == ["sw", "bn", "fi"]  # not "all"
    assert [lang.code for lang in resolve_languages(export, "bn, sw")] == ["bn", "sw"]


def test_unknown_language_code_names_the_known_ones(export):
    with pytest.raises(UnknownLanguageError, match=r"unknown language code 'xx'.*Known: bn, fi, hi"):
        resolve_languages(export, "sw,xx")


def test_language_the_dataset_lacks_lists_its_configs(export):
    with pytest.raises(ValueError, match=r"has no config for 'ta'; its language configs are: sw, bn, fi"):
        resolve_languages(export, "sw,ta")


def test_missing_columns_are_named(tmp_path):
    rows = [{"id": "1", "lang": "sw", "instruction": "Why?", "text": "Kwa sababu."}]
    write_config(tmp_path, "sw", {"train": rows}, features=None)
    write_readme(tmp_path, {"sw": ["train"]})
    with pytest.raises(ValueError, match=r"config 'sw' of .* lacks the column\(s\) output \(it has: id, lang, "
                                         r"instruction, text\)"):
        load_language(str(tmp_path), "sw")


def test_empty_config_is_an_error(tmp_path):
    write_config(tmp_path, "sw", {"train": []})
    write_readme(tmp_path, {"sw": ["train"]})
    with pytest.raises(ValueError, match=r"config 'sw' of .* has a split with no rows .*: the export is empty for this language"):
        load_language(str(tmp_path), "sw")


def test_blank_pairs_are_dropped_and_all_blank_is_an_error(tmp_path):
    rows = pair_rows("sw", 3)
    rows[0]["output"] = "   "
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
    with pytest.raises(ValueError, match="too few to hold out 6"):
        load_language(export, "bn", eval_size=6)


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
    data = load_sft_data(export, args(languages="sw,bn", language_weights={"sw": 1, "bn": 1}, mixture_size=30))
    counts = Counter(data.train["lang"])
    assert counts == {"sw": 15, "bn": 15}
    bn_ids = Counter(i for i, lang in zip(data.train["id"], data.train["lang"]) if lang == "bn")
    assert sorted(bn_ids.values()) == [2, 2, 2, 3, 3, 3]  # 15 = 2 full copies of 6 + 3 drawn at random


def test_zero_weight_leaves_a_language_out(export):
    data = load_sft_data(export, args(languages="sw,bn", language_weights="sw=1,bn=0"))
    assert Counter(data.train["lang"]) == {"sw": 12}


@pytest.mark.parametrize("spec, message", [
    ("sw:1", "is not CODE=WEIGHT"),
    ("sw=much", "must be a number"),
    ("sw=-1", "must be >= 0"),
    ("sw=0,bn=0", "all language weights are 0"),
    ("xx=1", "unknown language code 'xx'"),
])
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
        {"role": "user", "content": "What happened in the city after last night's heavy rain?\nAnswer in Swahili."},
        {"role": "assistant", "content": "Mvua kubwa ilinyesha jana usiku na barabara nyingi za mji zilijaa maji hadi "
                                         "asubuhi."},
    ]
    plain = load_sft_data(export, args(languages="sw", prompt_format="prompt_completion"))
    row = next(r for r in plain.train if r["id"] == "sw-0000")
    assert row["prompt"] == "What happened in the city after last night's heavy rain?\nAnswer in Swahili.\n"
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
