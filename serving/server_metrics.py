"""Per-version metrics of the model server, aggregated in process and exported through Ray's metrics pipeline."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from ray.serve import metrics

from serving.histogram import Histogram


class VersionMetrics:
    """Per-version counters, aggregated in plain Python on the request path and exported once a second.

    A Ray metric call per request costs about as much as a small model's prediction, so requests only bump local
    numbers; `flush()` sets cumulative gauges (tags model, version, plus Serve's application/deployment/replica).
    They are cumulative per replica and restart from zero with it, like any Prometheus counter.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.counts: dict[tuple[int, int], int] = defaultdict(int)
        self.latency: dict[str, dict[int, Histogram]] = {"request": {}, "shadow": {}}
        self.shadow: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.cold_loads: dict[int, int] = defaultdict(int)
        self.in_flight: dict[int, int] = defaultdict(int)
        gauges = shared_gauges()
        self.requests_gauge = gauges["requests"]
        self.latency_gauges = gauges["latency"]
        self.shadow_requests = gauges["shadow_requests"]
        self.shadow_agreements = gauges["shadow_agreements"]
        self.ready = gauges["ready"]
        self.load_ms = gauges["load_ms"]
        self.cold_loads_gauge = gauges["cold_loads"]
        self.ongoing = gauges["ongoing"]

    def tags(self, version: int) -> dict[str, str]:
        return {"model": self.model, "version": str(version)}

    def begin(self, version: int) -> None:
        self.in_flight[version] += 1

    def answered(self, version: int, code: int, elapsed_ms: float) -> None:
        """One request done (every `begin` has exactly one `answered`)."""
        self.in_flight[version] = max(0, self.in_flight[version] - 1)
        self.counts[(version, code)] += 1
        self.observe("request", version, elapsed_ms)

    def observe(self, kind: str, version: int, elapsed_ms: float) -> None:
        histogram = self.latency[kind].get(version)
        if histogram is None:
            histogram = self.latency[kind][version] = Histogram()
        histogram.observe(elapsed_ms)

    def mirrored(self, version: int, agreed: bool, elapsed_ms: float) -> None:
        totals = self.shadow[version]
        totals[0] += 1
        totals[1] += agreed
        self.observe("shadow", version, elapsed_ms)

    def flush(self) -> None:
        for (version, code), count in list(self.counts.items()):
            self.requests_gauge.set(count, tags={**self.tags(version), "code": str(code)})
        for kind, histograms in self.latency.items():
            buckets, total, count = self.latency_gauges[kind]
            for version, histogram in list(histograms.items()):
                tags = self.tags(version)
                for bound, cumulative in histogram.cumulative():
                    buckets.set(cumulative, tags={**tags, "le": bound})
                total.set(histogram.sum, tags=tags)
                count.set(histogram.count, tags=tags)
        for version, count in list(self.in_flight.items()):
            self.ongoing.set(count, tags=self.tags(version))
        for version, count in list(self.cold_loads.items()):
            self.cold_loads_gauge.set(count, tags=self.tags(version))
        for version, (requests_seen, agreements) in list(self.shadow.items()):
            self.shadow_requests.set(requests_seen, tags=self.tags(version))
            self.shadow_agreements.set(agreements, tags=self.tags(version))


@functools.cache
def shared_gauges() -> dict[str, Any]:
    """One set of Ray metrics per process: a pool replica serves many models through the same gauges."""
    tags = ("model", "version")
    return {
        "requests": metrics.Gauge(
            "raylane_requests", "Requests answered by version and status code", tag_keys=(*tags, "code")
        ),
        "latency": {
            kind: (
                metrics.Gauge(f"raylane_{kind}_latency_ms_bucket", f"{kind} latency histogram", (*tags, "le")),
                metrics.Gauge(f"raylane_{kind}_latency_ms_sum", f"{kind} latency sum", tags),
                metrics.Gauge(f"raylane_{kind}_latency_ms_count", f"{kind} latency count", tags),
            )
            for kind in ("request", "shadow")
        },
        "shadow_requests": metrics.Gauge("raylane_shadow_requests", "Mirrored requests", tags),
        "shadow_agreements": metrics.Gauge("raylane_shadow_agreements", "Mirrored answers that agreed", tags),
        "ready": metrics.Gauge("raylane_version_ready", "1 loaded and answering, 0 loading or cold, -1 failed", tags),
        "load_ms": metrics.Gauge("raylane_version_load_ms", "Time the last fetch and load of the version took", tags),
        "cold_loads": metrics.Gauge("raylane_cold_loads", "Loads on first use in a shared pool replica", tags),
        "ongoing": metrics.Gauge("raylane_ongoing", "Requests in flight when the metrics were flushed", tags),
    }
