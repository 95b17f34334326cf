"""Reading back what the model servers export (serving/server_metrics.py): from Prometheus text to per-version
samples, with counter deltas across replica restarts and percentiles.

It sits next to the exporter so the format has one owner: the control plane's monitor and the benchmarks both read
replicas through it, and neither has to import the other. Pure Python over plain values (no Django, no Ray, no
I/O), so it is unit-tested on its own and safe to import anywhere.

The model server replicas export cumulative per-version numbers (``ray_raylane_*``): one series per replica,
starting from zero when the replica starts. A sample is the increase of every series since the previous scrape,
summed per (model, version); gauges (readiness, requests in flight) are summed over the live replicas.

Requests and their latency carry a `routed` label (`split`, `pinned`; latency also `rejected` for 4xx answers).
Totals count everything, for the charts; the `split_*` numbers count only the weighted split's answers that were
not the client's fault, and are the only ones a rollout's analysis reads: anyone can pin a version or send
garbage, nobody outside can choose what the split sends where. Series without the label (replicas from before it
existed) count as split.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from serving.histogram import BUCKET_LABELS, bucket_index, quantile

REQUESTS = "ray_raylane_requests"
BUCKETS = "ray_raylane_request_latency_ms_bucket"
LATENCY_SUM = "ray_raylane_request_latency_ms_sum"
READY = "ray_raylane_version_ready"
ONGOING = "ray_raylane_ongoing"
SHADOW_REQUESTS = "ray_raylane_shadow_requests"
SHADOW_AGREEMENTS = "ray_raylane_shadow_agreements"
COUNTER_FAMILIES = (REQUESTS, BUCKETS, LATENCY_SUM, SHADOW_REQUESTS, SHADOW_AGREEMENTS)
GAUGE_FAMILIES = (READY, ONGOING)
FAMILIES = (*COUNTER_FAMILIES, *GAUGE_FAMILIES)
FORGET_AFTER_S = 600  # a series unseen this long belonged to a replica that is gone
SPLIT, PINNED = "split", "pinned"


@dataclass(frozen=True)
class Reading:
    """One exported value: `label` is the status code of a request count, the `le` of a bucket, else ""."""

    name: str
    model: str
    version: int
    replica: str
    label: str
    value: float
    routed: str = SPLIT

    @property
    def key(self) -> tuple[str, str, int, str, str, str]:
        return (self.name, self.model, self.version, self.replica, self.label, self.routed)


def reading(name: str, labels: dict[str, str], value: float) -> Reading | None:
    model = labels.get("model", "")
    version = labels.get("version", "")
    if name not in FAMILIES or not model or not version.isdigit():
        return None
    replica = labels.get("replica") or labels.get("ReplicaId") or labels.get("WorkerId", "")
    label = labels.get("code") or labels.get("le") or ""
    return Reading(name, model, int(version), replica, label, value, labels.get("routed") or SPLIT)


def parse_text(text: str) -> list[Reading]:
    """Readings from Prometheus exposition text (one or several nodes' worth, concatenated). Only our families'
    lines are parsed: a node exports hundreds of kilobytes of Ray's own metrics every second."""
    lines = "\n".join(line for line in text.splitlines() if line.startswith(FAMILIES))
    found = []
    for family in text_string_to_metric_families(lines + "\n"):
        for sample in family.samples:
            parsed = reading(sample.name, sample.labels, sample.value)
            if parsed is not None:
                found.append(parsed)
    return found


def parse_prometheus_vector(body: dict[str, Any]) -> list[Reading]:
    """Readings from a Prometheus `/api/v1/query` instant-vector answer (for PROMETHEUS_URL)."""
    found = []
    for item in (body.get("data") or {}).get("result") or ():
        labels = dict(item.get("metric") or {})
        try:
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        parsed = reading(labels.pop("__name__", ""), labels, value)
        if parsed is not None:
            found.append(parsed)
    return found


@dataclass(kw_only=True)
class VersionActivity:
    """What one version did during an interval (counts are increases), and its replicas at the interval's end."""

    version: int
    requests: int = 0
    errors: int = 0  # answered 5xx
    client_errors: int = 0  # answered 4xx
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKET_LABELS))
    latency_sum_ms: float = 0.0
    shadow_requests: int = 0
    shadow_agreements: int = 0
    # What a rollout's analysis reads: answers of the weighted split that were not 4xx (see the module docstring).
    split_requests: int = 0
    split_errors: int = 0  # of split_requests, answered 5xx
    split_latency_buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKET_LABELS))
    pinned_requests: int = 0  # answered for a client that pinned the version, any status
    replicas_total: int = 0
    replicas_ready: int = 0
    replicas_loading: int = 0
    replicas_failed: int = 0
    replica_states: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class VersionSample(VersionActivity):
    """One scrape's worth for one version of one model."""

    model: str
    ongoing: float = 0.0

    def add_counter(self, name: str, label: str, increase: float, routed: str = SPLIT) -> None:
        if name == REQUESTS:
            count = round(increase)
            self.requests += count
            if label.startswith("5"):
                self.errors += count
            elif label.startswith("4"):
                self.client_errors += count
            if routed == PINNED:
                self.pinned_requests += count
            elif routed == SPLIT and not label.startswith("4"):
                self.split_requests += count
                self.split_errors += count if label.startswith("5") else 0
        elif name == BUCKETS:
            self.add_cumulative_bucket(label, increase)
            if routed == SPLIT:
                index = bucket_index(label)
                if index is not None:
                    self.split_latency_buckets[index] += round(increase)
        elif name == LATENCY_SUM:
            self.latency_sum_ms += increase
        elif name == SHADOW_REQUESTS:
            self.shadow_requests += round(increase)
        elif name == SHADOW_AGREEMENTS:
            self.shadow_agreements += round(increase)

    def add_cumulative_bucket(self, le: str, increase: float) -> None:
        # Exported buckets are cumulative (`le`); stored ones are per bucket. Collect cumulative first, then
        # `finish()` takes differences.
        index = bucket_index(le)
        if index is not None:
            self.latency_buckets[index] += round(increase)

    def finish(self) -> VersionSample:
        """Turn the cumulative bucket increases gathered by `add_counter` into per-bucket counts."""
        self.latency_buckets = per_bucket(self.latency_buckets)
        self.split_latency_buckets = per_bucket(self.split_latency_buckets)
        return self

    def percentile(self, q: float) -> float | None:
        return quantile(self.latency_buckets, q)


class CounterDeltas:
    """Remembers every series' last value between scrapes.

    - The first scrape only sets the baseline: what replicas counted before the monitor started is not "now".
    - A series seen for the first time later is a new replica's (or a new version's): all of its value is new.
    - A value lower than last time means the replica restarted: all of the new value is new.
    - A series missing from one scrape (a node that did not answer) keeps its last value, so it does not count
      everything again when it comes back; series unseen for `FORGET_AFTER_S` are forgotten.
    """

    def __init__(self) -> None:
        self.last: dict[tuple, tuple[float, float]] = {}  # key -> (value, when seen)
        self.primed = False

    def step(
        self, readings: Iterable[Reading], now: float, live_replicas: Mapping[str, Collection[str]] | None = None
    ) -> dict[tuple[str, int], VersionSample]:
        """Per (model, version) samples since the previous call. `live_replicas` (model -> replica ids), when
        known, filters gauges: Ray keeps exporting a dead replica's last gauge values for a while."""
        samples: dict[tuple[str, int], VersionSample] = {}

        def sample_for(item: Reading) -> VersionSample:
            key = (item.model, item.version)
            if key not in samples:
                samples[key] = VersionSample(model=item.model, version=item.version)
            return samples[key]

        for item in readings:
            if item.name in GAUGE_FAMILIES:
                live = live_replicas.get(item.model) if live_replicas is not None else None
                if live is not None and item.replica not in live:
                    continue
                target = sample_for(item)
                if item.name == ONGOING:
                    target.ongoing += item.value
                elif item.value >= 1:
                    target.replicas_ready += 1
                elif item.value < 0:
                    target.replicas_failed += 1
                else:
                    target.replicas_loading += 1
                continue
            before = self.last.get(item.key)
            self.last[item.key] = (item.value, now)
            if before is None:
                increase = item.value if self.primed else 0.0
            else:
                increase = item.value - before[0] if item.value >= before[0] else item.value
            if increase:
                sample_for(item).add_counter(item.name, item.label, increase, item.routed)
            else:
                sample_for(item)
        self.primed = True
        cutoff = now - FORGET_AFTER_S
        for key in [key for key, (_, seen) in self.last.items() if seen < cutoff]:
            del self.last[key]
        return {key: sample.finish() for key, sample in samples.items()}


def per_bucket(cumulative: list[int]) -> list[int]:
    counts, previous = [], 0
    for running in cumulative:
        counts.append(max(0, running - previous))
        previous = max(previous, running)
    return counts


def merge_buckets(rows: Iterable[Iterable[int]]) -> list[int]:
    total = [0] * len(BUCKET_LABELS)
    for row in rows:
        for index, count in enumerate(row):
            if index < len(total):
                total[index] += count
    return total
