"""Negative controls for the rater (builder/quality/rater.py): a rater that cannot tell matched from
mismatched pairs is reported, warned about, and fails the build under --min-rater-auc."""

from __future__ import annotations

import pytest
from _cli_build import build_args, cli
from _scripted_engine import ScriptedEngine, last_user
from datasets import Dataset

from builder.engines.cache import CachedModel, RequestCache
from builder.quality.rater import NO_SCORES, QualityGateError, check_rater, report_lines
from builder.stages.rater_controls import rater_controls
from builder.stages.refine import RefineConfig

PAIRS = [
    (
        "How do I cook ugali?",
        "Chemsha maji, ongeza unga wa mahindi kidogo kidogo huku ukikoroga hadi ugali uwe mzito.",
    ),
    (
        "What causes inflation?",
        "Mfumuko wa bei hutokea pale fedha nyingi zinapokimbiza bidhaa chache sokoni.",
    ),
    (
        "Tell me about Zanzibar's history.",
        "Zanzibar ilikuwa kitovu cha biashara ya pwani ya Afrika Mashariki kwa karne nyingi.",
    ),
    (
        "How should I water tomatoes?",
        "Mwagilia nyanya asubuhi mapema, kwenye shina, si juu ya majani.",
    ),
]


def _table(pairs, first_scores):
    return Dataset.from_dict(
        {
            "dropped": [None] * len(pairs),
            "instruction": [q for q, _ in pairs],
            "output": [r for _, r in pairs],
            "judgements": [
                [
                    {
                        "round": 1,
                        "instruction": q,
                        "prompt_hash": "h",
                        "raw": f"Score: {s}",
                        "score": s,
                        "status": "ok",
                    }
                ]
                for (q, _), s in zip(pairs, first_scores)
            ],
        }
    )


def _rater(tmp_path, judge):
    engine = ScriptedEngine(lambda prompt, params, k: judge(last_user(prompt)))
    return CachedModel(engine, RequestCache(tmp_path / "cache.sqlite")), engine


def test_a_rater_that_always_says_5_is_at_chance_and_fails_the_gate(tmp_path):
    model, engine = _rater(tmp_path, lambda prompt: " 5\nReason: fine")
    report = rater_controls(model, "sw", _table(PAIRS, [5, 5, 5, 5]), RefineConfig(), seed=0)
    assert report == {"pairs": 4, "auc": 0.5, "mean_matched": 5.0, "mean_mismatched": 5.0}
    quality = {"sw": {"rater": report}}
    # four mismatched pairs are too few for an AUC: the summary says so instead of warning on noise
    assert "rater: 4 pairs: too few for an AUC (need 10)" in "\n".join(report_lines(quality))
    assert not any(line.startswith("WARNING") for line in report_lines(quality))
    many = {"sw": {"rater": {**report, "pairs": 64}}}
    assert any(
        line.startswith("WARNING sw: the rater gate") and "0.50 [0.38, 0.62], 64 pairs" in line
        for line in report_lines(many)
    )
    # nor is it a number the gate passes or fails on
    with pytest.raises(
        QualityGateError,
        match=r"could not be measured for sw \(4 pairs: too few for an AUC \(need 10\)\)",
    ):
        check_rater(quality, 0.6)
    with pytest.raises(QualityGateError, match=r"--min-rater-auc 0.6: sw 0.50"):
        check_rater(many, 0.6)
    check_rater(many, None)  # no threshold: only the warning
    sent = len(engine.prompts)
    rater_controls(model, "sw", _table(PAIRS, [5, 5, 5, 5]), RefineConfig(), seed=0)
    assert len(engine.prompts) == sent  # the controls come from the request cache on a rerun


def test_a_rater_that_knows_the_pairs_separates_them(tmp_path):
    matched = {q: r for q, r in PAIRS}

    def judge(prompt):
        good = any(q in prompt and r in prompt for q, r in matched.items())
        return " 5\nReason: on topic" if good else " 1\nReason: unrelated"

    model, _ = _rater(tmp_path, judge)
    report = rater_controls(model, "sw", _table(PAIRS, [5, 5, 5, 5]), RefineConfig(), seed=0)
    assert report["auc"] == 1.0 and report["mean_mismatched"] == 1.0
    check_rater({"sw": {"rater": {**report, "pairs": 64}}}, 0.9)
    # a perfect score from 4 pairs is no pass
    with pytest.raises(QualityGateError, match=r"4 pairs: too few"):
        check_rater({"sw": {"rater": report}}, 0.9)
    assert not any(line.startswith("WARNING") for line in report_lines({"sw": {"rater": report}}))


def test_one_row_gives_no_rater_number(tmp_path):
    model, engine = _rater(tmp_path, lambda prompt: " 5")
    report = rater_controls(model, "sw", _table(PAIRS[:1], [5]), RefineConfig(), seed=0)
    assert report["auc"] is None and report["note"] == "not enough rows to calibrate"
    assert engine.prompts == []
    assert "rater: not enough rows to calibrate" in "\n".join(
        report_lines({"sw": {"rater": report}})
    )


def test_a_rater_whose_control_replies_never_parse_gives_no_number(tmp_path):
    model, engine = _rater(tmp_path, lambda prompt: " fine")
    report = rater_controls(model, "sw", _table(PAIRS, [5, 5, 5, 5]), RefineConfig(), seed=0)
    assert report["auc"] is None and report["note"] == NO_SCORES and report["pairs"] == 4
    assert len(engine.prompts) == 8  # each control asked twice (greedy, then the sampled retry)


def test_min_rater_auc_never_passes_without_a_number():
    unmeasured = {
        "sw": {"rater": {"pairs": 1, "auc": None, "note": "not enough rows to calibrate"}},
        "fi": {"rater": {"pairs": 40, "auc": 0.75, "mean_matched": 4.0, "mean_mismatched": 2.5}},
    }
    with pytest.raises(
        QualityGateError,
        match=r"^--min-rater-auc 0.7 needs the rater's AUC, which could not be "
        r"measured for sw \(not enough rows to calibrate\)\. .*leave out "
        r"--min-rater-auc$",
    ):
        check_rater(unmeasured, 0.7)
    with pytest.raises(QualityGateError, match=r"could not be measured for sw \(not measured\)"):
        check_rater({"sw": {"relevance": {"auc": 0.9}}}, 0.7)  # no rater report at all
    with pytest.raises(QualityGateError, match=r"below --min-rater-auc 0.8: fi 0.75"):
        check_rater(unmeasured, 0.8)  # a low number is named first
    check_rater(unmeasured, None)


def test_min_rater_auc_on_a_language_too_small_to_measure_fails_the_build(tmp_path, capsys):
    """One document: one pair, no mismatched pair to score, so no AUC: the gate the user asked
    for fails with the reason instead of passing in silence."""
    run = cli(
        build_args(tmp_path, "embedded", "sw", "--max-docs", "1", "--min-rater-auc", "0.6"), capsys
    )
    assert run.code == 1
    assert run.err.strip().splitlines()[-1] == (
        "x-instruction: --min-rater-auc 0.6 needs the rater's AUC, which could not be measured for sw (not enough "
        "rows to calibrate). Give each language at least 10 pairs that refine keeps (more text, or a stronger "
        "--evaluator), leave it out of --langs, or leave out --min-rater-auc"
    )
