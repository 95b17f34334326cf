"""Latency histograms in milliseconds with fixed bucket bounds, shared by the model server (which fills them) and
the control plane (which turns bucket deltas into percentiles). Plain Python: no Ray, no Django."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

LATENCY_BOUNDARIES_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
BUCKET_LABELS = (*map(str, LATENCY_BOUNDARIES_MS), "+Inf")  # the `le` label of each bucket, Prometheus style


class Histogram:
    """Per-bucket counts (the last bucket is everything above the highest bound), a sum and a count."""

    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKET_LABELS)
        self.sum = 0.0
        self.count = 0

    def observe(self, value_ms: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BOUNDARIES_MS, value_ms)] += 1
        self.sum += value_ms
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        running, rows = 0, []
        for bound, count in zip(BUCKET_LABELS, self.buckets, strict=True):
            running += count
            rows.append((bound, running))
        return rows


def bucket_index(le: str) -> int | None:
    """Which bucket an exported `le` label names (`"5"`, `"5.0"` and `"+Inf"` all work), None for unknown ones."""
    if le in ("+Inf", "inf", "Inf"):
        return len(LATENCY_BOUNDARIES_MS)
    try:
        value = float(le)
    except ValueError:
        return None
    for index, bound in enumerate(LATENCY_BOUNDARIES_MS):
        if abs(bound - value) < 1e-9:
            return index
    return None


def quantile(buckets: Sequence[int | float], q: float) -> float | None:
    """The q-quantile of per-bucket counts, interpolated inside its bucket like Prometheus' histogram_quantile:
    None without observations; the highest finite bound when it falls in the open-ended last bucket."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank, running = q * total, 0.0
    for index, count in enumerate(buckets):
        if count and running + count >= rank:
            if index == len(LATENCY_BOUNDARIES_MS):
                return float(LATENCY_BOUNDARIES_MS[-1])
            lower = LATENCY_BOUNDARIES_MS[index - 1] if index else 0.0
            upper = LATENCY_BOUNDARIES_MS[index]
            return lower + (upper - lower) * (rank - running) / count
        running += count
    return float(LATENCY_BOUNDARIES_MS[-1])
