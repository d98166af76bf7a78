"""Metric maths on synthetic judgements: swap aggregation, ties, invalid judgements, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from builder.judge.aggregate import pair_outcome, pairwise_summary
from builder.judge.bootstrap import group_index, percentile_interval, resample_weights
from builder.judge.parsing import parse_judgement


def s(first, second) -> str:
    """A judge reply scoring position 1 and position 2."""
    return f"<score1>{first}</score1> <score2>{second}</score2>"


def outcome(ab: str, ba: str, rule="sum", partial="exclude"):
    return pair_outcome(parse_judgement(ab), parse_judgement(ba), rule, partial).outcome


# --- one pair -----------------------------------------------------------------------------


def test_swapped_order_is_mapped_back_to_the_systems():
    # A first: A scores 8. B first: B scores 4, A scores 9 (position 2). Both orders favour A.
    assert outcome(s(8, 5), s(4, 9)) == "win"
    assert outcome(s(2, 9), s(9, 2)) == "loss"
    result = pair_outcome(parse_judgement(s(8, 5)), parse_judgement(s(4, 9)))
    assert (result.score_a, result.score_b) == (8.5, 4.5)
    assert result.consistent is True


def test_a_judge_that_always_prefers_position_one_yields_ties():
    # The position, not the content, decided: the two orders cancel out.
    result = pair_outcome(parse_judgement(s(9, 3)), parse_judgement(s(9, 3)))
    assert result.outcome == "tie" and result.consistent is False


def test_sum_rule_and_agree_rule_differ_only_on_half_decided_pairs():
    win_and_tie = (s(8, 5), s(6, 6))
    assert outcome(*win_and_tie, rule="sum") == "win"
    assert outcome(*win_and_tie, rule="agree") == "tie"
    assert outcome(s(8, 5), s(5, 8), rule="agree") == "win"
    assert outcome(s(8, 5), s(8, 5), rule="agree") == "tie"
    assert outcome(s(5, 5), s(5, 5), rule="agree") == "tie"


def test_invalid_judgement_excludes_the_pair_unless_partial_single():
    assert outcome(s(8, 5), "no scores here") is None
    assert outcome(s(8, 5), "no scores here", partial="single") == "win"
    assert outcome("<score1>N</score1>", "", partial="single") is None
    result = pair_outcome(parse_judgement(s(8, 5)), parse_judgement("garbage"), partial="single")
    assert result.valid_orders == 1 and result.consistent is None


def test_unknown_rule_or_policy_is_refused():
    with pytest.raises(ValueError, match="sum, agree"):
        outcome(s(1, 2), s(2, 1), rule="majority")
    with pytest.raises(ValueError, match="exclude, single"):
        outcome(s(1, 2), s(2, 1), partial="drop")


# --- summaries ----------------------------------------------------------------------------


def test_rates_count_only_valid_pairs_and_invalid_judgements_are_reported():
    ab = [s(8, 5)] * 6 + [s(5, 5)] * 2 + ["I cannot decide.", s(9, 1), s(3, 8)]
    ba = [s(5, 8)] * 6 + [s(4, 6)] * 2 + [s(1, 9), s(9, 1), "<score1>11</score1><score2>3</score2>"]
    summary = pairwise_summary(ab, ba)
    assert summary["pairs"] == 11
    assert summary["valid_pairs"] == 9 and summary["excluded_pairs"] == 2
    assert summary["judgements"] == 22 and summary["invalid_judgements"] == 2
    assert summary["invalid_by_status"] == {"missing": 1, "out_of_range": 1}
    # 6 clean wins, 2 tie+win = wins, 1 position-biased pair = tie
    assert summary["win_rate"] == pytest.approx(8 / 9, abs=1e-4)
    assert summary["tie_rate"] == pytest.approx(1 / 9, abs=1e-4)
    assert summary["loss_rate"] == 0
    assert summary["score"] == pytest.approx(8.5 / 9, abs=1e-4)
    assert summary["consistency"] == pytest.approx(6 / 9, abs=1e-4)
    # invalid judgements never enter the mean scores (the official script averaged -1 in): each
    # valid pair's score is the mean over its two orders, A (8+8)x6, (5+6)x2, (9+1); B (5+5)x6,
    # (5+4)x2, (1+9), over 9 pairs
    assert summary["mean_score_a"] == pytest.approx(64 / 9, abs=1e-4)
    assert summary["mean_score_b"] == pytest.approx(44 / 9, abs=1e-4)


def test_partial_single_counts_pairs_with_one_valid_order():
    ab = [s(8, 5), s(8, 5)]
    ba = [s(5, 8), "garbled"]
    assert pairwise_summary(ab, ba)["valid_pairs"] == 1
    single = pairwise_summary(ab, ba, partial="single")
    assert single["valid_pairs"] == 2 and single["win_rate"] == 1.0


def test_all_ties():
    summary = pairwise_summary([s(5, 5)] * 20, [s(7, 7)] * 20)
    assert summary["tie_rate"] == 1.0 and summary["win_rate"] == 0.0 and summary["loss_rate"] == 0.0
    assert summary["tie_rate_ci"] == [1.0, 1.0] and summary["win_rate_ci"] == [0.0, 0.0]
    assert summary["score"] == 0.5 and summary["position1_preference"] is None


def test_one_item():
    summary = pairwise_summary([s(9, 2)], [s(2, 9)], lengths_a=[100], lengths_b=[80])
    assert summary["win_rate"] == 1.0 and summary["win_rate_ci"] == [1.0, 1.0]
    assert summary["valid_pairs"] == 1
    # One win, A 101/81 times B's length (+1 each): the ridge-penalised logistic fit (ridge 0.01)
    # has its optimum at intercept 3.2392, slope 0.7148 (found independently with scipy's BFGS);
    # the length-controlled score is sigmoid(3.2392), and one pair has no spread to resample
    lc = summary["length"]["length_controlled_score"]
    assert lc == pytest.approx(1 / (1 + math.exp(-3.23918538)), abs=1e-4)
    assert summary["length"]["length_controlled_score_ci"] == [lc, lc]


def test_zero_valid_pairs_gives_no_rates_and_no_intervals():
    summary = pairwise_summary(
        ["nothing", ""],
        ["<score1>N</score1>", "<score1>3</score1>"],
        lengths_a=[10, 20],
        lengths_b=[10, 20],
    )
    assert summary["valid_pairs"] == 0 and summary["invalid_judgements"] == 4
    for key in ("win_rate", "tie_rate", "loss_rate", "score"):
        assert summary[key] is None and summary[f"{key}_ci"] is None
    assert summary["length"]["length_controlled_score"] is None
    assert summary["mean_score_a"] is None


def test_no_pairs_at_all():
    summary = pairwise_summary([], [])
    assert summary["pairs"] == 0 and summary["win_rate"] is None and summary["consistency"] is None


def test_mismatched_orders_are_refused():
    with pytest.raises(ValueError, match="every pair needs one judgement in each order"):
        pairwise_summary([s(1, 2)], [])


def test_interval_bounds_contain_the_estimate_and_shrink_with_more_data():
    rng = np.random.default_rng(1)

    def sample(n):
        wins = rng.random(n) < 0.6
        return [s(8, 4) if w else s(4, 8) for w in wins], [s(4, 8) if w else s(8, 4) for w in wins]

    small, large = pairwise_summary(*sample(30)), pairwise_summary(*sample(600))
    for summary in (small, large):
        for key in ("win_rate", "loss_rate", "score"):
            low, high = summary[f"{key}_ci"]
            assert 0 <= low <= summary[key] <= high <= 1
    width = lambda summary: summary["win_rate_ci"][1] - summary["win_rate_ci"][0]  # noqa: E731
    assert width(large) < width(small) / 2.5  # ~ 1/sqrt(20) narrower
    # the 600-pair interval covers the true rate
    assert large["win_rate_ci"][0] < 0.6 < large["win_rate_ci"][1]


def test_intervals_are_repeatable_and_depend_on_the_seed():
    ab, ba = [s(8, 4), s(4, 8), s(5, 5)] * 10, [s(4, 8), s(8, 4), s(6, 6)] * 10
    lengths = dict(lengths_a=list(range(100, 130)), lengths_b=[115] * 30)
    first, again = (
        pairwise_summary(ab, ba, seed=3, **lengths),
        pairwise_summary(ab, ba, seed=3, **lengths),
    )
    assert first == again
    # rate intervals sit on multiples of 1/30 and may coincide; the fitted one is continuous
    other = pairwise_summary(ab, ba, seed=4, **lengths)
    assert (
        other["length"]["length_controlled_score_ci"]
        != first["length"]["length_controlled_score_ci"]
    )


def test_higher_confidence_gives_a_wider_interval():
    ab, ba = [s(8, 4), s(4, 8)] * 15, [s(4, 8), s(8, 4)] * 15
    narrow = pairwise_summary(ab, ba, confidence=0.5)["win_rate_ci"]
    wide = pairwise_summary(ab, ba, confidence=0.99)["win_rate_ci"]
    assert (
        wide[0] <= narrow[0]
        and wide[1] >= narrow[1]
        and (wide[1] - wide[0]) > (narrow[1] - narrow[0])
    )


def test_group_bootstrap_widens_intervals_for_correlated_samples():
    # 10 questions x 8 samples: the samples of one question share an outcome, so the
    # evidence is 10 questions, not 80 pairs.
    outcomes = [True] * 5 + [False] * 5
    ab = [s(8, 4) if o else s(4, 8) for o in outcomes for _ in range(8)]
    ba = [s(4, 8) if o else s(8, 4) for o in outcomes for _ in range(8)]
    groups = [q for q in range(10) for _ in range(8)]
    by_pair = pairwise_summary(ab, ba)
    by_group = pairwise_summary(ab, ba, groups=groups)
    assert by_pair["win_rate"] == by_group["win_rate"] == 0.5
    assert by_group["bootstrap"]["unit"] == "group"
    width = lambda summary: summary["win_rate_ci"][1] - summary["win_rate_ci"][0]  # noqa: E731
    assert width(by_group) > 1.8 * width(by_pair)


def test_position_bias_is_measured():
    # a judge that prefers whatever comes first
    summary = pairwise_summary([s(9, 3)] * 10, [s(9, 3)] * 10)
    assert summary["position1_preference"] == 1.0 and summary["consistency"] == 0.0
    assert summary["tie_rate"] == 1.0


def _length_biased_judgements(seed: int, shift: float, content: float = 0.0):
    """A judge whose preference for A grows with A's relative length (plus `content`)."""
    rng = np.random.default_rng(seed)
    len_b = rng.integers(200, 400, size=300)
    len_a = (len_b * np.exp(rng.normal(shift, 0.5, size=300))).astype(int)
    wins = rng.random(300) < 1 / (1 + np.exp(-(3 * np.log(len_a / len_b) + content)))
    ab = [s(8, 4) if w else s(4, 8) for w in wins]
    ba = [s(4, 8) if w else s(8, 4) for w in wins]
    return ab, ba, len_a.tolist(), len_b.tolist()


def test_length_strata_and_length_controlled_score():
    # A's answers are usually longer and the judge likes length, nothing else: the raw score
    # looks like a clear win, the strata show why, and the length-controlled score is ~0.5.
    ab, ba, len_a, len_b = _length_biased_judgements(seed=0, shift=0.6)
    summary = pairwise_summary(ab, ba, lengths_a=len_a, lengths_b=len_b)
    strata = summary["length"]["strata"]
    assert summary["score"] > 0.7
    assert strata["A longer (>1.25x)"]["win_rate"] > strata["similar (0.8-1.25x)"]["win_rate"]
    assert strata["similar (0.8-1.25x)"]["win_rate"] > strata["A shorter (<0.8x)"]["win_rate"]
    assert sum(stratum["n"] for stratum in strata.values()) == 300
    controlled = summary["length"]["length_controlled_score"]
    low, high = summary["length"]["length_controlled_score_ci"]
    assert low <= controlled <= high and low < 0.5 < high
    assert abs(controlled - 0.5) < 0.12
    # Same lengths, but A is also better in content: the controlled score shows the advantage.
    ab, ba, len_a, len_b = _length_biased_judgements(seed=0, shift=0.6, content=1.5)
    better = pairwise_summary(ab, ba, lengths_a=len_a, lengths_b=len_b)
    assert better["length"]["length_controlled_score_ci"][0] > 0.6


def test_verdict_format_summary():
    summary = pairwise_summary(
        ["[[1]]", "[[2]]", "[[tie]]"], ["[[2]]", "[[2]]", "[[tie]]"], fmt="verdict"
    )
    assert (summary["win_rate"], summary["tie_rate"]) == (
        pytest.approx(1 / 3, abs=1e-4),
        pytest.approx(2 / 3, abs=1e-4),
    )
    assert summary["mean_score_a"] is None


def test_bootstrap_helpers():
    assert group_index(3, None).tolist() == [0, 1, 2]
    assert group_index(4, ["q2", "q1", "q2", "q3"]).tolist() == [1, 0, 1, 2]
    with pytest.raises(ValueError, match="one group"):
        group_index(2, ["a"])
    weights = resample_weights(np.array([0, 0, 5, 5]), n_boot=50, seed=0)
    assert weights.shape == (50, 4)
    assert np.all(weights[:, 0] == weights[:, 1]) and np.all(weights[:, 2] == weights[:, 3])
    assert np.all(weights.sum(1) == 4)  # two groups of two drawn twice
    assert percentile_interval(np.array([np.nan, np.nan]), 0.95) is None
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval(np.array([0.5]), 1.5)
