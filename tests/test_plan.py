"""The declared pipeline (builder/stages/plan.py): what repeats the stage order is derived from
it, and a stage is added by one module and one entry."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from _scripted_engine import ScriptedEngine
from helpers.pipeline import pipeline_config as _config
from helpers.pipeline import writer_and_judge

from builder.core.schema import REFINED, RELEVANT
from builder.pipeline.runner import build
from builder.stages import plan

ROOT = Path(__file__).resolve().parents[1]


# -- a toy stage: its module (this class) and its entry (`_with_toy`) ---------------------------
class Shorter:
    """Drops the pairs whose response length is a multiple of `every`, as "toy_drop"."""

    name = "shorter"
    input_features = REFINED
    output_features = REFINED
    made = 0  # stage objects the build made: one per language that had shards to map
    calls = 0  # batches it mapped

    def __init__(self, every: int):
        Shorter.made += 1
        self.every = every

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        Shorter.calls += 1
        return {
            "dropped": [
                d if d is not None or len(o or "") % self.every else "toy_drop"
                for d, o in zip(batch["dropped"], batch["output"])
            ]
        }


TOY = {"every": 2}


def _with_toy(monkeypatch) -> None:
    entry = plan.StageSpec(
        "shorter",
        plan.SHARD,
        plan.DRIVER,
        REFINED,
        REFINED,
        lambda x: ("shorter", TOY["every"]),
        lambda x: Shorter(TOY["every"]),
        funnel=True,
    )
    after_refine = [s.name for s in plan.PLAN].index("refine") + 1
    monkeypatch.setattr(plan, "PLAN", [*plan.PLAN[:after_refine], entry, *plan.PLAN[after_refine:]])


def test_a_toy_stage_runs_resumes_shows_in_the_funnel_and_reruns_when_its_setting_changes(
    tmp_path, monkeypatch
):
    _with_toy(monkeypatch)
    monkeypatch.setitem(TOY, "every", 2)
    monkeypatch.setattr(Shorter, "made", 0)
    monkeypatch.setattr(Shorter, "calls", 0)
    config = _config(tmp_path, langs=["sw"])
    first = build(config, engines={"scripted": ScriptedEngine(writer_and_judge)})
    # it ran, on each shard, and is a funnel column between refine and select that dropped rows
    assert Shorter.made == 1 and Shorter.calls == len(
        list((tmp_path / "work" / "sw").glob("shorter-*/shard-*.parquet"))
    )
    stages = [s["stage"] for s in first.build_info["funnel"]["sw"]["stages"]]
    assert stages == ["prepare", "generate", "refine", "shorter", "select", "diversify"]
    toy = next(s for s in first.build_info["funnel"]["sw"]["stages"] if s["stage"] == "shorter")
    assert toy["dropped"] == {"toy_drop": toy["in"] - toy["out"]} and 0 < toy["out"] < toy["in"]
    assert "shorter" in first.funnel.table().splitlines()[0]
    assert all(len(output) % 2 for output in first.languages["sw"]["output"])

    # the same command: every shard of it is in the work dir, so it is not made or called again
    calls = Shorter.calls
    engine = ScriptedEngine(writer_and_judge)
    again = build(dataclasses.replace(config, overwrite=True), engines={"scripted": engine})
    assert (Shorter.made, Shorter.calls, engine.stats.calls) == (1, calls, 0)
    assert again.build_info["funnel"] == first.build_info["funnel"]

    # its setting changed: its fingerprint, and so its folder, changes and it runs again
    monkeypatch.setitem(TOY, "every", 10**9)
    third = build(
        dataclasses.replace(config, overwrite=True),
        engines={"scripted": ScriptedEngine(writer_and_judge)},
    )
    assert Shorter.made == 2 and Shorter.calls > calls
    assert len(list((tmp_path / "work" / "sw").glob("shorter-*"))) == 2
    toy = next(s for s in third.build_info["funnel"]["sw"]["stages"] if s["stage"] == "shorter")
    assert toy["dropped"] == {} and toy["in"] == toy["out"]


# -- a toy language stage: its module (this class) and its entry (`_with_toy_language_stage`) -------
class Odd:
    """Reads a language's whole table: drops the kept pairs at even positions among the kept,
    as "toy_even" (a stage that compares rows, which a shard stage could not do)."""

    name = "odd"
    input_features = RELEVANT
    output_features = RELEVANT
    made = 0  # stage objects the build made: one per language it ran on
    calls = 0  # batches: the whole table is one

    def __init__(self, keep_every: int):
        Odd.made += 1
        self.keep_every = keep_every

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        Odd.calls += 1
        out, alive = [], 0
        for d in batch["dropped"]:
            if d is None:
                alive += 1
                d = None if alive % self.keep_every else "toy_even"
            out.append(d)
        return {"dropped": out}


TOY_LANG = {"keep_every": 2}


def _with_toy_language_stage(monkeypatch) -> None:
    entry = plan.StageSpec(
        "odd",
        plan.LANGUAGE,
        plan.DRIVER,
        RELEVANT,
        RELEVANT,
        lambda x: ("odd", TOY_LANG["keep_every"]),
        lambda x: Odd(TOY_LANG["keep_every"]),
        funnel=True,
        chained=False,
    )
    at = [s.name for s in plan.PLAN].index("select")
    monkeypatch.setattr(plan, "PLAN", [*plan.PLAN[:at], entry, *plan.PLAN[at:]])


def test_a_toy_language_stage_runs_is_reused_shows_in_the_funnel_and_reruns_when_its_setting_changes(
    tmp_path, monkeypatch
):
    _with_toy_language_stage(monkeypatch)
    monkeypatch.setitem(TOY_LANG, "keep_every", 2)
    monkeypatch.setattr(Odd, "made", 0)
    monkeypatch.setattr(Odd, "calls", 0)
    config = _config(tmp_path, langs=["sw"])
    first = build(config, engines={"scripted": ScriptedEngine(writer_and_judge)})
    # it ran once on the language's whole table, between relevance and select, and dropped rows
    assert (Odd.made, Odd.calls) == (1, 1)
    stages = [s["stage"] for s in first.build_info["funnel"]["sw"]["stages"]]
    assert stages == ["prepare", "generate", "refine", "odd", "select", "diversify"]
    toy = next(s for s in first.build_info["funnel"]["sw"]["stages"] if s["stage"] == "odd")
    assert toy["dropped"] == {"toy_even": toy["in"] - toy["out"]} and 0 < toy["out"] < toy["in"]
    assert toy["in"] - toy["out"] == toy["in"] // 2
    assert "odd" in first.funnel.table().splitlines()[0]
    assert "odd" in first.build_info["timings"]

    # the same command: the language's last table is kept, so the toy is not made or run again
    again = build(
        dataclasses.replace(config, overwrite=True),
        engines={"scripted": ScriptedEngine(writer_and_judge)},
    )
    assert (Odd.made, Odd.calls) == (1, 1)
    assert again.build_info["funnel"] == first.build_info["funnel"]

    # its setting changed: the language's kept result no longer matches, and the toy runs again
    monkeypatch.setitem(TOY_LANG, "keep_every", 10**9)
    third = build(
        dataclasses.replace(config, overwrite=True),
        engines={"scripted": ScriptedEngine(writer_and_judge)},
    )
    assert (Odd.made, Odd.calls) == (2, 2)
    rows_in = toy["in"]
    toy = next(s for s in third.build_info["funnel"]["sw"]["stages"] if s["stage"] == "odd")
    assert toy["dropped"] == {} and toy["in"] == toy["out"] == rows_in


def test_a_language_step_the_plan_names_but_the_pipeline_lacks_fails_at_the_start(
    tmp_path, monkeypatch
):
    from builder.pipeline.language_stages import LanguageStages

    misspelt = dataclasses.replace(plan.spec("diversify"), step="diversfy")
    monkeypatch.setattr(plan, "PLAN", [misspelt if s.name == "diversify" else s for s in plan.PLAN])
    with pytest.raises(ValueError, match="'diversify' needs a LanguageStages step; 'diversfy'"):
        LanguageStages(_config(tmp_path), tmp_path, None, None, None, {})


def test_the_funnel_and_the_model_stages_come_from_the_plan():
    assert plan.funnel_stages() == ("prepare", "generate", "refine", "select", "diversify")
    assert plan.model_stages() == ("generate", "refine", "rater_controls")
    assert [s.name for s in plan.shard_stages()] == ["prepare", "generate", "rank", "refine"]


def test_each_chained_fingerprint_hashes_the_one_before(tmp_path, monkeypatch):
    identity = {"engine": "scripted", "model": "m", "revision": "r"}
    config = _config(tmp_path)
    first = plan.stage_fingerprints(config, "sw", identity, identity)
    assert list(first) == [s.name for s in plan.PLAN if s.chained]
    # a change in generate's settings renames generate and every chained stage after it, not prepare
    changed = plan.stage_fingerprints(
        dataclasses.replace(config, candidates=3), "sw", identity, identity
    )
    assert [first[s] == changed[s] for s in first] == [True, False, False, False, False]


def test_the_readmes_pipeline_lists_the_declared_stages():
    """The README's Architecture section draws the stages in the plan's order, each with where it runs."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    drawn = re.search(r"<!-- plan -->\n```\n(.*?)```", text, re.S)
    assert drawn, (
        "README.md: the Architecture section's pipeline drawing (between <!-- plan --> and ```) is missing"
    )
    assert drawn.group(1) == plan.describe_plan()
