"""The declared pipeline (builder/stages/plan.py): what repeats the stage order is derived from
it, and a stage is added by one module and one entry."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from _scripted_engine import ScriptedEngine
from helpers.pipeline import pipeline_config as _config
from helpers.pipeline import writer_and_judge

from builder.core.schema import REFINED
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
