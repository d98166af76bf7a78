"""The pipeline end to end: funnel, export layout, resume, bad input (fast; scripted or tiny models)."""

from __future__ import annotations

import json

import datasets
import pytest
from _scripted_engine import ScriptedEngine
from helpers.pipeline import pipeline_config as _config
from helpers.pipeline import writer_and_judge

from builder.core.funnel import Funnel
from builder.pipeline.results import GENERAL_ADVICE, empty_build_advice
from builder.pipeline.runner import EmptyBuildError, Pipeline, build


def test_build_exports_configs_that_load_and_a_consistent_funnel(tmp_path):
    engine = ScriptedEngine(writer_and_judge)
    result = build(_config(tmp_path), engines={"scripted": engine})

    for lang in ("sw", "fi"):
        funnel = result.build_info["funnel"][lang]
        assert funnel["rows_in"] == 6
        stages = funnel["stages"]
        # each stage starts with what the previous one kept; drops add up to the difference
        assert all(a["out"] == b["in"] for a, b in zip(stages, stages[1:]))
        assert funnel["rows_in"] - funnel["rows_out"] == sum(funnel["dropped"].values())
        loaded = datasets.load_dataset(str(result.output_dir), lang, split="train")
        assert len(loaded) == funnel["rows_out"] == len(result.languages[lang]) <= 3
        row = loaded[0]
        assert (
            row["lang"] == lang
            and row["score"] == 5
            and row["instruction"].startswith("Explain step by step")
        )
        # generate wrote "How do I ...?" first; ranking by relevance put the candidate that quotes
        # the text first, so the rater accepted it in round 1
        assert row["rounds"] == 1 and 0 <= row["relevance"] <= 1
        assert json.loads(row["meta"]["prompts"])["evaluate"]["hash"]
        assert row["source"]["corpus"] == "x-instruction-demo-sample"
    audit = datasets.load_dataset(str(result.output_dir), "candidates", split="train")
    assert len(audit) == 12 and set(audit["lang"]) == {"sw", "fi"}
    assert any(d == "cluster_duplicate" for d in audit["dropped"])


def test_rerun_makes_no_model_calls_and_gives_the_same_rows(tmp_path):
    first = build(_config(tmp_path), engines={"scripted": ScriptedEngine(writer_and_judge)})
    engine = ScriptedEngine(writer_and_judge)
    second = build(_config(tmp_path), engines={"scripted": engine})
    assert engine.stats.calls == 0
    for lang in ("sw", "fi"):
        assert first.languages[lang]["id"] == second.languages[lang]["id"]
        assert first.languages[lang]["instruction"] == second.languages[lang]["instruction"]


def _stage_folders(work, lang: str) -> dict[str, list[str]]:
    return {
        stage: sorted(p.name for p in (work / lang).glob(f"{stage}-*"))
        for stage in ("prepare", "generate", "rank", "refine")
    }


def _shard_files(folder) -> dict[str, tuple[int, bytes]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.glob("shard-*.parquet"))
    }


def test_changing_a_refine_setting_reuses_generation(tmp_path):
    """Checked on the work dir, not the request cache: the cache is deleted between the two
    builds, so generation could only be spared by the stages finding their own output."""
    first, second = _config(tmp_path, rounds=1, accept_score=3), _config(tmp_path, rounds=2)
    build(first, engines={"scripted": ScriptedEngine(writer_and_judge)})
    work = tmp_path / "work"
    fps = {
        lang: Pipeline(first, engines={"scripted": ScriptedEngine(writer_and_judge)}).fingerprints(
            lang
        )
        for lang in ("sw", "fi")
    }
    before = {lang: _stage_folders(work, lang) for lang in fps}
    generated = {
        lang: _shard_files(work / lang / f"generate-{fps[lang]['generate']}") for lang in fps
    }
    for path in work.glob("cache.sqlite*"):
        path.unlink()

    engine = ScriptedEngine(writer_and_judge)
    build(second, engines={"scripted": engine})
    for lang in ("sw", "fi"):
        again = Pipeline(second, engines={"scripted": engine}).fingerprints(lang)
        after = _stage_folders(work, lang)
        # prepare, generate and rank: the same single folder, named by an unchanged fingerprint
        for stage in ("prepare", "generate", "rank"):
            assert (
                after[stage] == before[lang][stage] == [f"{stage}-{fps[lang][stage]}"]
                and again[stage] == fps[lang][stage]
            )
        # generate's shards were read, not written again
        assert (
            generated[lang]
            and _shard_files(work / lang / f"generate-{again['generate']}") == generated[lang]
        )
        # refine ran anew, into a folder of its own beside the first one
        assert again["refine"] != fps[lang]["refine"] and before[lang]["refine"] == [
            f"refine-{fps[lang]['refine']}"
        ]
        assert after["refine"] == sorted(
            [f"refine-{fps[lang]['refine']}", f"refine-{again['refine']}"]
        )
    assert engine.prompts and not any(p[0]["role"] == "system" for p in engine.prompts), (
        "generation prompts were sent again although only refine settings changed"
    )


def test_every_row_filtered_reports_the_funnel(tmp_path):
    judge_low = ScriptedEngine(
        lambda p, params, k: (
            " 1\nReason: unrelated."
            if p[-1]["role"] == "assistant"
            else "How do I write a good essay about anything?"
        )
    )
    with pytest.raises(EmptyBuildError) as err:
        build(_config(tmp_path), engines={"scripted": judge_low})
    message = str(err.value)
    assert (
        "every row was filtered out" in message
        and "low_score" in message
        and "--accept-score" in message
    )


def test_the_empty_build_advice_follows_the_reasons_that_dropped_the_most_rows():
    funnel = Funnel(("prepare", "select"))
    funnel.record("sw", "prepare", [None] * 6, [None] * 5 + ["too_short"])
    after = ["off_topic"] * 3 + ["below_seed_floor", "instruction_echo", None]
    funnel.record("sw", "select", [None] * 5 + ["too_short"], after[:5] + ["too_short"])
    funnel.record("fi", "prepare", [None] * 2, ["low_score", "below_seed_floor"])
    advice = empty_build_advice(funnel)
    # off_topic 3, below_seed_floor 2: the two that dropped the most, in that order
    assert advice.startswith("What to change: off_topic: lower --min-relevance")
    assert "; below_seed_floor: use --relevance-floor flag" in advice
    assert "accept-score" not in advice
    only_rater = Funnel(("select",))
    only_rater.record("sw", "select", [None, None], ["low_score", "low_score"])
    assert "lower --accept-score" in empty_build_advice(only_rater)
    echo = Funnel(("select",))
    echo.record("sw", "select", [None], ["instruction_echo"])
    assert empty_build_advice(echo) == (
        "What to change: instruction_echo: use a stronger --model (its instructions failed this check)."
    )
    unknown = Funnel(("select",))
    unknown.record("sw", "select", [None], ["something_new"])
    assert empty_build_advice(unknown) == GENERAL_ADVICE


def test_tiny_random_model_output_is_rejected_not_published(tmp_path, tiny_engine):
    """Garbage from a real (random) model must end in the funnel as drop reasons."""
    config = _config(
        tmp_path, langs=["sw"], max_docs=3, candidates=2, max_instruction_tokens=8, model="tiny"
    )
    result = Pipeline(config, engines={"tiny": tiny_engine}).run()
    # Seeded random weights and sampling: the three texts always get word-salad instructions
    # (which pass the instruction checks) and replies with no score, so refine drops all three.
    funnel = result.build_info["funnel"]["sw"]
    assert (funnel["rows_in"], funnel["rows_out"], funnel["dropped"]) == (
        3,
        0,
        {"unparseable_judgement": 3},
    )
    assert [(s["stage"], s["in"], s["out"]) for s in funnel["stages"][:3]] == [
        ("prepare", 3, 3),
        ("generate", 3, 3),
        ("refine", 3, 0),
    ]
    assert len(result.languages["sw"]) == 0


def test_unknown_language_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="Known: bn, fi, hi"):
        _config(tmp_path, langs=["xx"])


def test_bad_numbers_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        _config(tmp_path, rounds=0)
    with pytest.raises(ValueError, match="min_tokens"):
        _config(tmp_path, min_tokens=900, max_tokens=100)


def test_udhr_as_a_local_corpus(tmp_path, shared_data):
    """Real text through the whole pipeline from a local jsonl file."""
    config = _config(
        tmp_path,
        langs=["sw"],
        corpus=str(shared_data / "udhr" / "sw.jsonl"),
        max_docs=None,
        target_size=100,
    )
    result = build(config, engines={"scripted": ScriptedEngine(writer_and_judge)})
    funnel = result.build_info["funnel"]["sw"]
    assert funnel["rows_in"] == 15
    kept = result.languages["sw"]
    assert len(kept) == funnel["rows_out"] > 0
    assert all(row["source"]["row"].startswith("udhr-sw-") for row in kept)


def _cli(tmp_path, *args):
    from builder.cli import main

    return main(
        ["build", "--work-dir", str(tmp_path / "w"), "--output-dir", str(tmp_path / "o"), *args]
    )


def test_cli_bad_input_gives_one_clear_line(tmp_path, capsys):
    assert _cli(tmp_path, "--langs", "xx") == 2
    assert "unknown language code 'xx'" in capsys.readouterr().err
    assert _cli(tmp_path, "--langs", "sw", "--corpus", str(tmp_path / "missing.jsonl")) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(
        b"Habari za asubuhi, karibu sana nyumbani kwetu.\n" + "caf\xe9".encode("latin-1")
    )
    assert _cli(tmp_path, "--langs", "sw", "--corpus", str(latin1)) == 2
    err = capsys.readouterr().err
    assert "UTF-8" in err or "utf-8" in err


def test_yaml_config_with_cli_override(tmp_path):
    from builder.cli import make_parser
    from builder.cli.build import config_from_args

    yaml_file = tmp_path / "build.yaml"
    yaml_file.write_text("langs: sw,fi\nrounds: 3\ncandidates: 2\n")
    args = make_parser().parse_args(["build", "--config", str(yaml_file), "--rounds", "1"])
    config = config_from_args(args)
    assert config.langs == ["sw", "fi"] and config.rounds == 1 and config.candidates == 2
    yaml_file.write_text("roundz: 3\n")
    with pytest.raises(ValueError, match="unknown option.*roundz"):
        config_from_args(make_parser().parse_args(["build", "--config", str(yaml_file)]))
