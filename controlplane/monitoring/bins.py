"""Metric samples merged over intervals: the arithmetic the monitor's pushes, the REST series, the roll-ups and the
rollout analysis share (counts add up, gauges keep the interval's last value, latency histograms merge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from serving.histogram import quantile
from serving.metrics_reader import VersionActivity, merge_buckets

from .models import MetricSample

COUNTS = (
    "requests",
    "errors",
    "client_errors",
    "shadow_requests",
    "shadow_agreements",
    "split_requests",
    "split_errors",
    "pinned_requests",
)
REPLICA_GAUGES = ("replicas_total", "replicas_ready", "replicas_loading", "replicas_failed")


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def point(sample: Any, step_s: int) -> dict[str, Any]:
    """One version over one interval, as the websocket and the REST series both send it."""
    requests = sample.requests
    return {
        "version": sample.version,
        "at": sample.at.isoformat() if sample.at else None,
        "requests": requests,
        "rate": round(requests / step_s, 3),
        "errors": sample.errors,
        "error_rate": round(sample.errors / requests, 4) if requests else 0.0,
        "client_errors": sample.client_errors,
        "pinned_requests": sample.pinned_requests,  # included in requests; never in a rollout's analysis
        "p50_ms": rounded(quantile(sample.latency_buckets, 0.50)),
        "p95_ms": rounded(quantile(sample.latency_buckets, 0.95)),
        "p99_ms": rounded(quantile(sample.latency_buckets, 0.99)),
        "mean_ms": rounded(sample.latency_sum_ms / requests) if requests else None,
        "ongoing": rounded(sample.ongoing),
        "replicas_total": sample.replicas_total,
        "replicas_ready": sample.replicas_ready,
        "replicas_loading": sample.replicas_loading,
        "replicas_failed": sample.replicas_failed,
        "replica_states": sample.replica_states,
        "shadow_requests": sample.shadow_requests,
        "shadow_agreements": sample.shadow_agreements,
    }


@dataclass(kw_only=True)
class Bin(VersionActivity):
    """Samples merged over an interval: counts add up, gauges are the interval's last value (ongoing: mean)."""

    at: datetime
    ongoing_total: float = 0.0
    seconds: int = 0
    last_at: datetime | None = None

    def add(self, sample: MetricSample) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(sample, name))
        self.latency_sum_ms += sample.latency_sum_ms
        self.latency_buckets = merge_buckets([self.latency_buckets, sample.latency_buckets])
        self.split_latency_buckets = merge_buckets([self.split_latency_buckets, sample.split_latency_buckets])
        self.ongoing_total += sample.ongoing * sample.step_s
        self.seconds += sample.step_s
        if self.last_at is None or sample.at >= self.last_at:
            self.last_at = sample.at
            for name in REPLICA_GAUGES:
                setattr(self, name, getattr(sample, name))
            self.replica_states = sample.replica_states

    @property
    def ongoing(self) -> float:
        return self.ongoing_total / self.seconds if self.seconds else 0.0


def merged(samples: list[MetricSample], start: datetime, step_s: int) -> list[Bin]:
    bins: dict[tuple[int, int], Bin] = {}
    for sample in samples:
        index = int((sample.at - start).total_seconds()) // step_s
        key = (sample.version, index)
        if key not in bins:
            bins[key] = Bin(version=sample.version, at=start + timedelta(seconds=index * step_s))
        bins[key].add(sample)
    return [bins[key] for key in sorted(bins, key=lambda key: (key[1], key[0]))]


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
