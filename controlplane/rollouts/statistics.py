"""The statistics a canary is judged by: pure functions over counts, and verdicts that say what they found.

Latency comes as histogram bucket counts (the model servers keep no per-request values), so the tests here work on
buckets: a request is known only to lie in its bucket, and the top bucket holds everything above the highest bound,
whose latency is "at least that bound", never a measurement. Each test is one-sided, asking only whether the
candidate is worse: slower (Mann-Whitney U, ties corrected, normal approximation), failing more (a two-proportion z
test against the stable version, an exact binomial tail against a fixed threshold), or agreeing less with the
stable version's answers (a Wilson score interval).

The verdict helpers turn a test into pass, fail or inconclusive, with the statistic, the p-value or bound, the
sample sizes and the thresholds, and a sentence that says it in words. A gate fails only on evidence: a threshold
crossed by the point estimate alone (a p99 read from a few dozen requests) is inconclusive, and the rollout waits
for more requests.

Plain Python (the engine imports it, and the engine imports no framework); bucket bounds arrive as data, since the
engine may not import `serving`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist

Number = str | int | float | bool | None  # what a verdict's numbers hold: they are stored as JSON with the event


# --- distributions ------------------------------------------------------------------------------------------------


def normal_sf(z: float) -> float:
    """P(Z ≥ z) for a standard normal Z, accurate far into the tail (1 - cdf is not)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def one_sided_z(alpha: float) -> float:
    """The z with P(Z ≥ z) = alpha: 2.326 for 0.01."""
    return NormalDist().inv_cdf(1.0 - alpha)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), exactly (summed in log space from `k` outwards until the terms vanish)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)

    def pmf(i: int) -> float:
        return math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)

    mode = math.floor((n + 1) * p)
    if k > mode:  # the upper tail, whose terms fall from k on
        total, i = 0.0, k
        while i <= n:
            term = pmf(i)
            total += term
            if term <= total * 1e-17:
                break
            i += 1
        return min(1.0, total)
    total, i = 0.0, k - 1  # 1 - the lower tail, whose terms fall from k - 1 down
    while i >= 0:
        term = pmf(i)
        total += term
        if term <= total * 1e-17:
            break
        i -= 1
    return max(0.0, 1.0 - total)


# --- latency histograms -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantile:
    """A latency read from a histogram: interpolated inside its bucket, or, in the open-ended top bucket, only a
    lower bound (`at_least`)."""

    ms: float
    at_least: bool = False

    def __str__(self) -> str:
        return f"≥ {milliseconds(self.ms)}" if self.at_least else milliseconds(self.ms)


@dataclass(frozen=True)
class Histogram:
    """Requests per latency bucket. `counts[i]` for i < len(bounds_ms) are the requests in (bounds_ms[i-1],
    bounds_ms[i]] (the first from 0); the last count is every request above the highest bound."""

    bounds_ms: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.bounds_ms) + 1:
            raise ValueError(f"{len(self.counts)} counts for {len(self.bounds_ms)} bounds: need one more count")
        if any(count < 0 for count in self.counts):
            raise ValueError("bucket counts cannot be negative")
        if any(low >= high for low, high in zip(self.bounds_ms, self.bounds_ms[1:], strict=False)):
            raise ValueError("bucket bounds must increase")

    @classmethod
    def of(cls, bounds_ms: Sequence[float], counts: Sequence[int]) -> Histogram:
        """From stored rows, which may be shorter than the bounds (an older export): missing buckets count 0."""
        padded = [*counts[: len(bounds_ms) + 1], *[0] * (len(bounds_ms) + 1 - len(counts))]
        return cls(tuple(float(bound) for bound in bounds_ms), tuple(int(count) for count in padded))

    @property
    def total(self) -> int:
        return sum(self.counts)

    def lower_edge(self, index: int) -> float:
        return self.bounds_ms[index - 1] if index else 0.0

    def quantile(self, q: float) -> Quantile | None:
        """Like Prometheus' histogram_quantile: None without requests; in the top bucket, its lower bound only."""
        total = self.total
        if total == 0:
            return None
        rank, running = q * total, 0
        for index, count in enumerate(self.counts):
            if count and running + count >= rank:
                if index == len(self.bounds_ms):
                    return Quantile(self.bounds_ms[-1], at_least=True)
                lower, upper = self.lower_edge(index), self.bounds_ms[index]
                return Quantile(lower + (upper - lower) * (rank - running) / count)
            running += count
        return Quantile(self.bounds_ms[-1], at_least=True)

    def count_above(self, threshold_ms: float) -> int:
        """Requests certainly slower than `threshold_ms`: those in buckets whose lower edge is at or above it."""
        return sum(count for index, count in enumerate(self.counts) if self.lower_edge(index) >= threshold_ms)


# --- tests --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MannWhitney:
    """Mann-Whitney U of candidate against stable. `u` counts the pairs (one request of each) where the candidate's
    is slower, ties (the same bucket) as half; `p_value` is one-sided: that the candidate is slower."""

    u: float
    z: float
    p_value: float
    n_candidate: int
    n_stable: int

    @property
    def effect(self) -> float:
        """P(a candidate request is slower than a stable one), ties half: 0.5 when they do not differ."""
        pairs = self.n_candidate * self.n_stable
        return self.u / pairs if pairs else 0.5


def mann_whitney_slower(candidate: Histogram, stable: Histogram) -> MannWhitney:
    """Whether the candidate's latencies are stochastically greater than the stable's, from bucket counts.

    Each bucket is one group of ties, ordered by bucket, so the top bucket only ranks above the others. The normal
    approximation with the tie correction and a continuity correction: what scipy.stats.mannwhitneyu(candidate,
    stable, alternative="greater", method="asymptotic") gives on the requests expanded one value per bucket."""
    if candidate.bounds_ms != stable.bounds_ms:
        raise ValueError("the two histograms have different bucket bounds")
    n1, n2 = candidate.total, stable.total
    if n1 == 0 or n2 == 0:
        return MannWhitney(u=0.0, z=0.0, p_value=1.0, n_candidate=n1, n_stable=n2)
    u, stable_below, ties = 0.0, 0, 0
    for mine, theirs in zip(candidate.counts, stable.counts, strict=True):
        u += mine * (stable_below + theirs / 2)
        stable_below += theirs
        tied = mine + theirs
        ties += tied**3 - tied
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:  # every request in one bucket: nothing tells them apart
        return MannWhitney(u=u, z=0.0, p_value=1.0, n_candidate=n1, n_stable=n2)
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return MannWhitney(u=u, z=z, p_value=normal_sf(z), n_candidate=n1, n_stable=n2)


@dataclass(frozen=True)
class TwoProportions:
    """A pooled two-proportion z test; `p_value` is one-sided: that the first rate is higher."""

    z: float
    p_value: float
    rate_1: float
    rate_2: float


def two_proportion_greater(successes_1: int, n_1: int, successes_2: int, n_2: int) -> TwoProportions:
    if not (0 <= successes_1 <= n_1 and 0 <= successes_2 <= n_2):
        raise ValueError(f"not proportions: {successes_1} of {n_1}, {successes_2} of {n_2}")
    rate_1 = successes_1 / n_1 if n_1 else 0.0
    rate_2 = successes_2 / n_2 if n_2 else 0.0
    if n_1 == 0 or n_2 == 0:
        return TwoProportions(z=0.0, p_value=1.0, rate_1=rate_1, rate_2=rate_2)
    pooled = (successes_1 + successes_2) / (n_1 + n_2)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n_1 + 1 / n_2))
    if error == 0:  # both all-or-nothing alike: no difference to find
        return TwoProportions(z=0.0, p_value=1.0, rate_1=rate_1, rate_2=rate_2)
    z = (rate_1 - rate_2) / error
    return TwoProportions(z=z, p_value=normal_sf(z), rate_1=rate_1, rate_2=rate_2)


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion; z = 1.96 is the two-sided 95% one, `one_sided_z(0.01)` gives
    bounds each wrong at most 1% of the time."""
    if not 0 <= successes <= n:
        raise ValueError(f"not a proportion: {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    rate = successes / n
    scale = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / scale
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)


# --- verdicts -----------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """One gate's judgment: the outcome, a sentence for people, and the numbers behind it (stored with the event)."""

    gate: str
    outcome: Outcome
    message: str
    numbers: dict[str, Number] = field(default_factory=dict)

    def record(self) -> dict[str, Number]:
        return {"gate": self.gate, "verdict": self.outcome.value, **self.numbers}


@dataclass(frozen=True)
class Names:
    """How the messages call the two versions ("v2", "v1")."""

    candidate: str = "the candidate"
    stable: str = "the stable version"


UNNAMED = Names()


def latency_ratio_verdict(
    candidate: Histogram,
    stable: Histogram,
    *,
    max_ratio: float,
    min_delta_ms: float,
    max_p_value: float,
    quantile: float = 0.99,
    names: Names = UNNAMED,
) -> Verdict:
    """The candidate fails only when three things hold at once: its latency is significantly higher (Mann-Whitney,
    p < max_p_value), its p99 is over `max_ratio` times the stable's, and over it by at least `min_delta_ms` (2× of
    1 ms is not a regression). Over the ratio without significance is inconclusive: more requests will tell."""
    test = mann_whitney_slower(candidate, stable)
    mine, theirs = candidate.quantile(quantile), stable.quantile(quantile)
    label = f"p{quantile * 100:g}"
    numbers: dict[str, Number] = {
        "statistic": "mann_whitney_u",
        "u": round(test.u, 1),
        "z": round(test.z, 3),
        "p_value": test.p_value,
        "effect": round(test.effect, 4),
        "candidate_requests": test.n_candidate,
        "stable_requests": test.n_stable,
        "candidate_quantile_ms": mine.ms if mine else None,
        "candidate_quantile_at_least": mine.at_least if mine else None,
        "stable_quantile_ms": theirs.ms if theirs else None,
        "stable_quantile_at_least": theirs.at_least if theirs else None,
        "quantile": quantile,
        "max_ratio": max_ratio,
        "min_delta_ms": min_delta_ms,
        "max_p_value": max_p_value,
    }
    sizes = f"{test.n_candidate:,} vs {test.n_stable:,} requests"
    if mine is None or theirs is None:
        return Verdict("latency_ratio", Outcome.INCONCLUSIVE, f"no latency recorded ({sizes})", numbers)
    compared = f"{label} {mine} vs {theirs}"
    if theirs.at_least:
        why = f"{names.stable}'s {label} is {theirs}, beyond the histogram's range: "
        why += f"there is no ratio to hold {names.candidate} to"
        return Verdict("latency_ratio", Outcome.PASSED, why, numbers)
    over = mine.ms > max_ratio * theirs.ms and mine.ms - theirs.ms >= min_delta_ms
    limit = f"more than {max_ratio:g}× and +{milliseconds(min_delta_ms)}"
    named = f"{names.candidate}'s {label} {mine} vs {names.stable}'s {theirs}"
    if not over:
        message = f"{named} is not both {max_ratio:g}× and +{milliseconds(min_delta_ms)} over"
        return Verdict("latency_ratio", Outcome.PASSED, message, numbers)
    if test.p_value < max_p_value:
        message = f"{names.candidate}'s latency is higher than {names.stable}'s ({p_text(test.p_value)}, {sizes}): "
        message += f"{compared}, {limit}"
        return Verdict("latency_ratio", Outcome.FAILED, message, numbers)
    message = f"{named} is {limit}, but {names.candidate}'s latency is not significantly higher "
    message += f"({p_text(test.p_value)} ≥ {max_p_value:g}, {sizes}); waiting for more requests"
    return Verdict("latency_ratio", Outcome.INCONCLUSIVE, message, numbers)


def latency_limit_verdict(
    candidate: Histogram,
    stable: Histogram | None,
    *,
    max_ms: float,
    max_p_value: float,
    quantile: float = 0.99,
    names: Names = UNNAMED,
) -> Verdict:
    """An absolute p99 ceiling, judged on the candidate: it fails when more of its requests are certainly slower than
    `max_ms` than a true p99 at the ceiling would explain (exact binomial tail, p < max_p_value) and, when the stable
    version takes traffic (`stable` given), the candidate is also significantly slower than it (Mann-Whitney): on a
    busy machine both versions can cross a ceiling, and rolling back to one as slow fixes nothing."""
    mine = candidate.quantile(quantile)
    theirs = stable.quantile(quantile) if stable is not None else None
    total = candidate.total
    slower = candidate.count_above(max_ms)
    p_value = binomial_tail(slower, total, 1.0 - quantile)
    label = f"p{quantile * 100:g}"
    numbers: dict[str, Number] = {
        "statistic": "binomial_exceedances",
        "slower_requests": slower,
        "p_value_vs_max": p_value,
        "candidate_requests": total,
        "candidate_quantile_ms": mine.ms if mine else None,
        "candidate_quantile_at_least": mine.at_least if mine else None,
        "quantile": quantile,
        "max_ms": max_ms,
        "max_p_value": max_p_value,
    }
    compared = mann_whitney_slower(candidate, stable) if stable is not None else None
    if stable is not None and compared is not None:
        numbers |= {
            "stable_requests": compared.n_stable,
            "stable_quantile_ms": theirs.ms if theirs else None,
            "stable_quantile_at_least": theirs.at_least if theirs else None,
            "u": round(compared.u, 1),
            "z": round(compared.z, 3),
            "p_value": compared.p_value,
        }
    if mine is None:
        return Verdict("latency_max", Outcome.INCONCLUSIVE, f"no latency recorded for {names.candidate}", numbers)
    stated = f"{names.candidate}'s {label} is {mine}"
    if not mine.at_least and mine.ms <= max_ms:
        return Verdict("latency_max", Outcome.PASSED, f"{stated}, within max {milliseconds(max_ms)}", numbers)
    if mine.at_least and mine.ms < max_ms:
        message = f"{stated}, beyond the histogram's top bound: it cannot be held to max {milliseconds(max_ms)}"
        return Verdict("latency_max", Outcome.INCONCLUSIVE, message, numbers)
    over = f"{label} {mine} > max {milliseconds(max_ms)}"
    if theirs is not None and (theirs.at_least or (not mine.at_least and theirs.ms >= mine.ms)):
        message = f"{over}, but {names.candidate} is no slower than {names.stable} ({label} {theirs})"
        return Verdict("latency_max", Outcome.PASSED, message, numbers)
    evidence = f"{slower:,} of {total:,} requests took over {milliseconds(max_ms)} ({p_text(p_value)})"
    if compared is not None:
        evidence += f"; slower than {names.stable}'s {label} {theirs}: {p_text(compared.p_value)}"
    if p_value < max_p_value and (compared is None or compared.p_value < max_p_value):
        return Verdict("latency_max", Outcome.FAILED, f"{over}: {evidence}", numbers)
    message = f"{over}, but not significantly ({evidence}; needs p < {max_p_value:g}); waiting for more requests"
    return Verdict("latency_max", Outcome.INCONCLUSIVE, message, numbers)


def error_rate_verdict(
    candidate_errors: int,
    candidate_requests: int,
    stable_errors: int | None,
    stable_requests: int | None,
    *,
    max_rate: float,
    max_p_value: float,
    names: Names = UNNAMED,
) -> Verdict:
    """The candidate fails when its error rate is significantly over `max_rate` (exact binomial tail) and, when the
    stable version takes traffic, significantly over the stable's rate too (two-proportion z test): rolling back to
    a version that fails as often fixes nothing. Over the max without that evidence is inconclusive."""
    # Counters are scraped one series at a time: a sample can hold an error whose request lands in the next one.
    candidate_errors = min(candidate_errors, candidate_requests)
    if stable_errors is not None and stable_requests is not None:
        stable_errors = min(stable_errors, stable_requests)
    rate = candidate_errors / candidate_requests if candidate_requests else 0.0
    threshold_p = binomial_tail(candidate_errors, candidate_requests, max_rate)
    numbers: dict[str, Number] = {
        "statistic": "binomial_and_two_proportion_z",
        "candidate_errors": candidate_errors,
        "candidate_requests": candidate_requests,
        "candidate_error_rate": round(rate, 5),
        "p_value_vs_max": threshold_p,
        "max_error_rate": max_rate,
        "max_p_value": max_p_value,
    }
    compared = two_proportion_greater(candidate_errors, candidate_requests, stable_errors or 0, stable_requests or 0)
    if stable_requests is not None:
        numbers |= {
            "stable_errors": stable_errors,
            "stable_requests": stable_requests,
            "stable_error_rate": round(compared.rate_2, 5),
            "z": round(compared.z, 3),
            "p_value": compared.p_value,
        }
    stated = f"{names.candidate}'s error rate {percent(rate)} ({candidate_errors:,} of {candidate_requests:,})"
    if rate <= max_rate:
        return Verdict("error_rate", Outcome.PASSED, f"{stated} is within max {percent(max_rate)}", numbers)
    if stable_requests is not None and compared.rate_2 >= rate:
        message = f"error rate {percent(rate)} > max {percent(max_rate)}, but no worse than {names.stable}'s "
        message += f"{percent(compared.rate_2)} ({(stable_errors or 0):,} of {stable_requests:,})"
        return Verdict("error_rate", Outcome.PASSED, message, numbers)
    evidence = f"{p_text(threshold_p)} against the max"
    if stable_requests is not None:
        evidence += f"; {p_text(compared.p_value)} against {names.stable}'s {percent(compared.rate_2)}"
    significant = threshold_p < max_p_value and (stable_requests is None or compared.p_value < max_p_value)
    # "error rate X > max Y" leads the message: the console, the CLI and people grep for it
    if significant:
        message = f"error rate {percent(rate)} > max {percent(max_rate)}: {stated} is higher ({evidence})"
        return Verdict("error_rate", Outcome.FAILED, message, numbers)
    message = f"error rate {percent(rate)} > max {percent(max_rate)}, but not significantly ({evidence}; "
    message += f"needs p < {max_p_value:g}); waiting for more requests"
    return Verdict("error_rate", Outcome.INCONCLUSIVE, message, numbers)


def agreement_verdict(
    agreements: int, requests: int, *, min_rate: float, max_p_value: float, names: Names = UNNAMED
) -> Verdict:
    """Shadow agreement with a Wilson score interval at confidence 1 - max_p_value on each side: it passes once the
    lower bound reaches `min_rate`, fails once the upper bound is below it, and is inconclusive in between."""
    agreements = min(agreements, requests)  # two counters, scraped one at a time: see error_rate_verdict
    rate = agreements / requests if requests else 0.0
    lower, upper = wilson_interval(agreements, requests, one_sided_z(max_p_value))
    numbers: dict[str, Number] = {
        "statistic": "wilson_score",
        "shadow_agreements": agreements,
        "shadow_requests": requests,
        "shadow_agreement": round(rate, 5),
        "lower_bound": round(lower, 5),
        "upper_bound": round(upper, 5),
        "confidence": round(1 - max_p_value, 6),
        "min_shadow_agreement": min_rate,
    }
    stated = f"{names.candidate} agreed with {names.stable} on {agreements:,} of {requests:,} mirrored requests"
    bounds = f"{percent(rate)}; {(1 - max_p_value) * 100:g}% bounds {percent(lower)}–{percent(upper)}"
    if lower >= min_rate:
        return Verdict("shadow_agreement", Outcome.PASSED, f"{stated} ({bounds}) ≥ min {percent(min_rate)}", numbers)
    if upper < min_rate:
        message = f"shadow agreement {percent(rate)} < min {percent(min_rate)}: {stated} ({bounds})"
        return Verdict("shadow_agreement", Outcome.FAILED, message, numbers)
    message = f"shadow agreement {percent(rate)} vs min {percent(min_rate)} is not settled: {stated} ({bounds}); "
    message += "waiting for more requests"
    return Verdict("shadow_agreement", Outcome.INCONCLUSIVE, message, numbers)


# --- words --------------------------------------------------------------------------------------------------------


def p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def percent(rate: float) -> str:
    return f"{rate:.1%}"


def milliseconds(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2g} ms"
