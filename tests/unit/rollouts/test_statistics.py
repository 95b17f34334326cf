"""The canary statistics (rollouts.statistics) against known distributions and against scipy.stats.

Latencies are drawn from known distributions, bucketed exactly as the model servers bucket them
(serving.histogram.Histogram), and judged from the bucket counts alone, as the engine judges them.
"""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from controlplane.rollouts.statistics import (
    Histogram,
    Outcome,
    agreement_verdict,
    binomial_tail,
    error_rate_verdict,
    latency_limit_verdict,
    latency_ratio_verdict,
    mann_whitney_slower,
    one_sided_z,
    two_proportion_greater,
    wilson_interval,
)
from serving.histogram import quantile as server_quantile

from .latencies import BOUNDS, NAMES, bucketed


def lognormal(rng: random.Random, median_ms: float, n: int, sigma: float = 0.5) -> list[float]:
    return [rng.lognormvariate(math.log(median_ms), sigma) for _ in range(n)]


def expanded(histogram: Histogram) -> list[int]:
    """One value per request: its bucket's index (Mann-Whitney needs only the order)."""
    return [index for index, count in enumerate(histogram.counts) for _ in range(count)]


# --- Mann-Whitney U on buckets ---------------------------------------------------------------------------------------


def test_identical_samples_give_a_high_p_value():
    same = bucketed(lognormal(random.Random(1), 3.0, 500))
    test = mann_whitney_slower(same, same)
    assert test.u == pytest.approx(500 * 500 / 2)
    assert test.p_value > 0.49 and test.effect == pytest.approx(0.5)


def test_a_shifted_distribution_gives_a_low_p_value_and_only_one_way():
    rng = random.Random(2)
    slower, faster = bucketed(lognormal(rng, 4.5, 500)), bucketed(lognormal(rng, 3.0, 500))  # +50%
    assert mann_whitney_slower(slower, faster).p_value < 1e-9
    assert mann_whitney_slower(faster, slower).p_value > 0.999999, "one-sided: a faster candidate is no regression"


@settings(max_examples=200, deadline=None)
@given(
    candidate=st.lists(st.integers(0, 12), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1),
    stable=st.lists(st.integers(0, 12), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1),
)
def test_mann_whitney_matches_scipy_on_the_expanded_requests(candidate, stable):
    mine, theirs = Histogram(BOUNDS, tuple(candidate)), Histogram(BOUNDS, tuple(stable))
    x, y = expanded(mine), expanded(theirs)
    if not x or not y or len(set(x + y)) < 2:
        assert mann_whitney_slower(mine, theirs).p_value == 1.0  # nothing to tell apart
        return
    expected = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
    test = mann_whitney_slower(mine, theirs)
    assert test.u == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


def test_the_top_bucket_is_only_the_highest_rank_never_a_value():
    """Requests over the highest bound rank above every other; how far over does not matter (it is unknown)."""
    rng = random.Random(3)
    stable = bucketed(lognormal(rng, 3.0, 400))
    a_bit_over = bucketed([*lognormal(rng, 3.0, 39), 10_001])
    far_over = Histogram(BOUNDS, a_bit_over.counts)  # the same counts: 10,001 ms and 10 minutes bucket alike
    assert a_bit_over.quantile(0.99).at_least and str(a_bit_over.quantile(0.99)) == "≥ 10,000 ms"
    assert mann_whitney_slower(a_bit_over, stable) == mann_whitney_slower(far_over, stable)


def test_aa_false_alarms_stay_at_the_significance_level():
    """2,000 A/A comparisons of 60 vs 600 requests from one distribution: about 1% have p < 0.01, as they should."""
    rng = random.Random(4)
    alarms = sum(
        mann_whitney_slower(bucketed(lognormal(rng, 3.0, 60)), bucketed(lognormal(rng, 3.0, 600))).p_value < 0.01
        for _ in range(2000)
    )
    assert alarms <= 40, f"{alarms} of 2000 A/A comparisons were significant at 1%"


def test_a_50_percent_slowdown_is_found_every_time_with_a_thousand_requests():
    rng = random.Random(5)
    found = sum(
        mann_whitney_slower(bucketed(lognormal(rng, 3.0, 1000)), bucketed(lognormal(rng, 2.0, 1000))).p_value < 0.001
        for _ in range(100)
    )
    assert found == 100


def test_histograms_with_different_bounds_are_refused():
    other = Histogram((1.0, 2.0), (1, 1, 1))
    with pytest.raises(ValueError, match="different bucket bounds"):
        mann_whitney_slower(other, bucketed([1.0]))


# --- histograms ------------------------------------------------------------------------------------------------------


def test_quantiles_match_the_servers_and_the_top_bucket_is_a_lower_bound():
    rng = random.Random(6)
    sample = bucketed(lognormal(rng, 20.0, 1000))
    for q in (0.5, 0.9, 0.99):
        assert sample.quantile(q).ms == pytest.approx(server_quantile(list(sample.counts), q))
        assert not sample.quantile(q).at_least
    overflowing = bucketed([5.0] * 95 + [20_000.0] * 5)
    assert overflowing.quantile(0.99).ms == 10_000 and overflowing.quantile(0.99).at_least
    assert overflowing.quantile(0.5).ms <= 5 and bucketed([]).quantile(0.99) is None


def test_count_above_counts_only_requests_certainly_slower():
    sample = bucketed([1.5, 4.0, 7.0, 15.0, 30.0, 20_000.0])  # buckets (1,2] (2,5] (5,10] (10,20] (20,50] (10000,∞)
    assert sample.count_above(10) == 3  # 15, 30 and the top bucket; 7 ms is in (5, 10]
    assert sample.count_above(7) == 3, "(5, 10] may hold requests under 7 ms: not counted"
    assert sample.count_above(10_000) == 1


def test_stored_rows_shorter_than_the_bounds_are_padded():
    assert Histogram.of(BOUNDS, [1, 2]).counts == (1, 2) + (0,) * (len(BOUNDS) - 1)
    with pytest.raises(ValueError, match="one more count"):
        Histogram(BOUNDS, (1, 2))


# --- proportions -----------------------------------------------------------------------------------------------------


def test_two_proportion_known_values():
    test = two_proportion_greater(30, 100, 10, 100)  # pooled 0.2, se 0.0566
    assert test.z == pytest.approx(3.5355, abs=1e-4)
    assert test.p_value == pytest.approx(2.035e-4, rel=1e-3)
    assert test.p_value == pytest.approx(scipy_stats.norm.sf(test.z))
    chi2 = scipy_stats.chi2_contingency([[30, 70], [10, 90]], correction=False)[0]
    assert test.z**2 == pytest.approx(chi2), "the z test is the 2x2 chi-square test, one-sided"
    assert two_proportion_greater(10, 100, 30, 100).p_value > 0.999, "one-sided: fewer errors is no regression"
    assert two_proportion_greater(5, 100, 5, 100).p_value == pytest.approx(0.5)
    assert two_proportion_greater(0, 100, 0, 900).p_value == 1.0
    assert two_proportion_greater(3, 10, 0, 0).p_value == 1.0


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 10, 0.1), (1, 40, 0.01), (3, 50, 0.01), (5, 100, 0.01), (30, 100, 0.2), (12, 100, 0.2), (1, 1, 0.5),
     (1_100, 100_000, 0.01), (900, 100_000, 0.01), (20_000, 1_000_000, 0.02), (7, 5, 0.3)],
)  # fmt: skip
def test_binomial_tail_matches_scipy(k, n, p):
    assert binomial_tail(k, n, p) == pytest.approx(scipy_stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)


def test_binomial_tail_edges():
    assert binomial_tail(1, 100, 0.0) == 0.0 and binomial_tail(0, 100, 0.0) == 1.0
    assert binomial_tail(100, 100, 1.0) == 1.0


@pytest.mark.parametrize(
    ("successes", "n", "lower", "upper"),
    [(0, 10, 0.0, 0.2775), (50, 100, 0.4038, 0.5962), (81, 263, 0.2553, 0.3662), (10, 10, 0.7225, 1.0)],
)
def test_wilson_interval_known_values(successes, n, lower, upper):
    z95 = one_sided_z(0.025)  # 1.96: the two-sided 95% interval
    found = wilson_interval(successes, n, z95)
    assert found == pytest.approx((lower, upper), abs=1e-4)
    expected = scipy_stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert found == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_one_sided_z():
    assert one_sided_z(0.01) == pytest.approx(2.3263, abs=1e-4)
    assert one_sided_z(0.025) == pytest.approx(1.95996, abs=1e-5)


# --- verdicts --------------------------------------------------------------------------------------------------------


def test_latency_ratio_aa_noise_with_a_top_bucket_request_is_inconclusive():
    """The measured failure: 40 A/A requests, one of them over 10 s. p99 '≥ 10,000 ms' is > 3× the stable's, but
    no evidence that the candidate is slower: inconclusive, and the p99 is shown as a lower bound."""
    rng = random.Random(7)
    candidate = bucketed([*lognormal(rng, 3.0, 39), 12_000])
    stable = bucketed(lognormal(rng, 3.0, 400))
    verdict = latency_ratio_verdict(candidate, stable, max_ratio=3, min_delta_ms=5, max_p_value=0.01, names=NAMES)
    assert verdict.outcome == Outcome.INCONCLUSIVE, verdict.message
    assert "≥ 10,000 ms" in verdict.message and "not significantly higher" in verdict.message
    assert verdict.numbers["p_value"] > 0.01 and verdict.numbers["candidate_quantile_at_least"] is True
    assert (verdict.numbers["candidate_requests"], verdict.numbers["stable_requests"]) == (40, 400)


def test_latency_ratio_real_regression_fails_with_its_numbers():
    rng = random.Random(8)
    candidate, stable = bucketed(lognormal(rng, 15.0, 1240, 0.3)), bucketed(lognormal(rng, 2.5, 1190, 0.3))
    verdict = latency_ratio_verdict(candidate, stable, max_ratio=3, min_delta_ms=5, max_p_value=0.01, names=NAMES)
    assert verdict.outcome == Outcome.FAILED
    assert verdict.message.startswith("v2's latency is higher than v1's (p < 0.001, 1,240 vs 1,190 requests): p99 ")
    assert verdict.numbers["p_value"] < 1e-100 and verdict.numbers["z"] > 30
    assert verdict.numbers["max_ratio"] == 3 and verdict.numbers["min_delta_ms"] == 5
    assert verdict.numbers["max_p_value"] == 0.01


def test_latency_ratio_absolute_floor_two_times_one_ms_is_no_regression():
    rng = random.Random(9)
    candidate, stable = bucketed(lognormal(rng, 2.2, 3000, 0.2)), bucketed(lognormal(rng, 1.0, 3000, 0.2))
    assert mann_whitney_slower(candidate, stable).p_value < 1e-100, "significant, and well over 2×"
    verdict = latency_ratio_verdict(candidate, stable, max_ratio=2, min_delta_ms=5, max_p_value=0.01, names=NAMES)
    assert verdict.outcome == Outcome.PASSED, verdict.message
    strict = latency_ratio_verdict(candidate, stable, max_ratio=2, min_delta_ms=0.5, max_p_value=0.01)
    assert strict.outcome == Outcome.FAILED, "a policy can lower the floor for a fast model"


def test_latency_ceiling_needs_more_than_one_slow_request():
    rng = random.Random(10)
    stable = bucketed(lognormal(rng, 3.0, 400))
    one_slow = bucketed([*lognormal(rng, 3.0, 39), 20_000])
    verdict = latency_limit_verdict(one_slow, stable, max_ms=500, max_p_value=0.01, names=NAMES)
    assert verdict.outcome == Outcome.INCONCLUSIVE and verdict.numbers["slower_requests"] == 1
    slow = bucketed(lognormal(rng, 800.0, 300, 0.2))
    failed = latency_limit_verdict(slow, stable, max_ms=500, max_p_value=0.01, names=NAMES)
    assert failed.outcome == Outcome.FAILED and failed.message.startswith("p99 ")
    assert failed.numbers["p_value_vs_max"] < 1e-100
    alone = latency_limit_verdict(slow, None, max_ms=500, max_p_value=0.01, names=NAMES)
    assert alone.outcome == Outcome.FAILED, "at 100% there is no stable to compare: the ceiling alone judges"


def test_latency_ceiling_does_not_blame_a_candidate_as_slow_as_the_stable():
    rng = random.Random(11)
    busy_candidate, busy_stable = bucketed(lognormal(rng, 300.0, 500)), bucketed(lognormal(rng, 300.0, 5000))
    verdict = latency_limit_verdict(busy_candidate, busy_stable, max_ms=200, max_p_value=0.01, names=NAMES)
    assert verdict.outcome != Outcome.FAILED, verdict.message


def test_error_rate_verdicts():
    regression = error_rate_verdict(5, 100, 0, 900, max_rate=0.01, max_p_value=0.01, names=NAMES)
    assert regression.outcome == Outcome.FAILED
    assert regression.message.startswith("error rate 5.0% > max 1.0%")
    assert regression.numbers["p_value"] < 0.001 and regression.numbers["p_value_vs_max"] < 0.01
    one_error = error_rate_verdict(1, 40, 0, 400, max_rate=0.01, max_p_value=0.01, names=NAMES)
    assert one_error.outcome == Outcome.INCONCLUSIVE, "1 error in 40 requests is no evidence of a 1% rate"
    flaky_aa = error_rate_verdict(30, 1000, 31, 1000, max_rate=0.01, max_p_value=0.01, names=NAMES)
    assert flaky_aa.outcome == Outcome.PASSED and "no worse than v1's 3.1%" in flaky_aa.message
    clean = error_rate_verdict(0, 1000, 0, 1000, max_rate=0.0, max_p_value=0.01, names=NAMES)
    assert clean.outcome == Outcome.PASSED
    alone = error_rate_verdict(50, 1000, None, None, max_rate=0.01, max_p_value=0.01, names=NAMES)
    assert alone.outcome == Outcome.FAILED and "p_value" not in alone.numbers


def test_shadow_agreement_verdicts_use_the_wilson_bounds():
    differing = agreement_verdict(900, 1000, min_rate=0.95, max_p_value=0.01, names=NAMES)  # 10% different outputs
    assert differing.outcome == Outcome.FAILED and differing.numbers["upper_bound"] < 0.95
    agreeing = agreement_verdict(1000, 1000, min_rate=0.95, max_p_value=0.01, names=NAMES)
    assert agreeing.outcome == Outcome.PASSED and agreeing.numbers["lower_bound"] >= 0.95
    unsettled = agreement_verdict(96, 100, min_rate=0.95, max_p_value=0.01, names=NAMES)
    assert unsettled.outcome == Outcome.INCONCLUSIVE and "waiting for more requests" in unsettled.message
