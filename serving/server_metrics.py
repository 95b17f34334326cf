"""Per-version metrics of the model server, aggregated in process and exported through Ray's metrics pipeline."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from ray.serve import metrics

from serving.histogram import Histogram

# The `routed` tag keeps apart what a rollout's analysis may read (the weighted split) from what any client can
# aim at one version (pins) or make up (bodies the server refuses: 4xx, whose latency is kept apart too).
SPLIT, PINNED, REJECTED = "split", "pinned", "rejected"


class VersionMetrics:
    """Per-version counters, aggregated in plain Python on the request path and exported once a second.

    A Ray metric call per request costs about as much as a small model's prediction, so requests only bump local
    numbers; `flush()` sets cumulative gauges (tags model, version, plus Serve's application/deployment/replica).
    They are cumulative per replica and restart from zero with it, like any Prometheus counter. Request counts and
    request latency carry `routed`: `split` or `pinned` (latency: `rejected` for 4xx answers, either way).
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.counts: dict[tuple[int, int, str], int] = defaultdict(int)
        self.latency: dict[str, dict[tuple[int, str], Histogram]] = {"request": {}, "shadow": {}}
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

    def answered(self, version: int, code: int, elapsed_ms: float, routed: str = SPLIT) -> None:
        """One request done (every `begin` has exactly one `answered`); `routed` is SPLIT or PINNED."""
        self.in_flight[version] = max(0, self.in_flight[version] - 1)
        self.counts[(version, code, routed)] += 1
        self.observe("request", version, elapsed_ms, REJECTED if 400 <= code < 500 else routed)

    def observe(self, kind: str, version: int, elapsed_ms: float, routed: str = "") -> None:
        histogram = self.latency[kind].get((version, routed))
        if histogram is None:
            histogram = self.latency[kind][(version, routed)] = Histogram()
        histogram.observe(elapsed_ms)

    def mirrored(self, version: int, agreed: bool, elapsed_ms: float) -> None:
        totals = self.shadow[version]
        totals[0] += 1
        totals[1] += agreed
        self.observe("shadow", version, elapsed_ms)

    def flush(self) -> None:
        for (version, code, routed), count in list(self.counts.items()):
            self.requests_gauge.set(count, tags={**self.tags(version), "code": str(code), "routed": routed})
        for kind, histograms in self.latency.items():
            buckets, total, count = self.latency_gauges[kind]
            for (version, routed), histogram in list(histograms.items()):
                tags = self.tags(version) | ({"routed": routed} if routed else {})
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


def gauge(name: str, description: str, tag_keys: tuple[str, ...]) -> metrics.Gauge:
    """Ray Serve's Gauge, which takes any number of tag keys though its annotation says one (Tuple[str])."""
    return metrics.Gauge(name, description, tag_keys)  # type: ignore[arg-type]  # see above


@functools.cache
def shared_gauges() -> dict[str, Any]:
    """One set of Ray metrics per process: a pool replica serves many models through the same gauges."""
    tags = ("model", "version")
    return {
        "requests": gauge(
            "raylane_requests",
            "Requests answered by version, status code and routing (split or pinned)",
            tag_keys=(*tags, "code", "routed"),
        ),
        "latency": {
            kind: (
                gauge(f"raylane_{kind}_latency_ms_bucket", f"{kind} latency histogram", (*keys, "le")),
                gauge(f"raylane_{kind}_latency_ms_sum", f"{kind} latency sum", keys),
                gauge(f"raylane_{kind}_latency_ms_count", f"{kind} latency count", keys),
            )
            for kind, keys in (("request", (*tags, "routed")), ("shadow", tags))
        },
        "shadow_requests": gauge("raylane_shadow_requests", "Mirrored requests", tags),
        "shadow_agreements": gauge("raylane_shadow_agreements", "Mirrored answers that agreed", tags),
        "ready": gauge("raylane_version_ready", "1 loaded and answering, 0 loading or cold, -1 failed", tags),
        "load_ms": gauge("raylane_version_load_ms", "Time the last fetch and load of the version took", tags),
        "cold_loads": gauge("raylane_cold_loads", "Loads on first use in a shared pool replica", tags),
        "ongoing": gauge("raylane_ongoing", "Requests in flight when the metrics were flushed", tags),
    }
