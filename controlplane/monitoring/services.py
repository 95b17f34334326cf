"""Metric history: series over a range with a step, 1-minute roll-ups, retention; and the totals the rollout
analysis reads. Plain functions over MetricSample."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from controlplane.api.filters import UTCIsoDateTimeField
from controlplane.core.errors import ApplicationError
from controlplane.rollouts.models import Deployment
from serving.histogram import quantile
from serving.metrics_reader import Traffic, merge_buckets

from .models import RAW_STEP_S, ROLLUP_STEP_S, MetricSample

MAX_POINTS = 2000
ROLLUP_GRACE_S = 5  # a minute is rolled up once its last raw sample had time to arrive
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
GAUGES = ("replicas_total", "replicas_ready", "replicas_loading", "replicas_failed")


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
class Bin(Traffic):
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
            for name in GAUGES:
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


def parse_moment(raw: Any, name: str, *, now: datetime) -> datetime:
    """ISO 8601 (as every filter of the API reads it: any offset, normalised to UTC), epoch seconds, or `-N`: N
    seconds before `now`."""
    text = str(raw).strip()
    problem = f"not a time: {raw!r} (ISO 8601, epoch seconds, or -N seconds ago)"
    try:
        if text.lstrip("-").isdigit():
            seconds = int(text)
            return now + timedelta(seconds=seconds) if text.startswith("-") else datetime.fromtimestamp(seconds, tz=UTC)
        parsed = UTCIsoDateTimeField().clean(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise ApplicationError(problem, field=name) from exc
    except forms.ValidationError as exc:
        raise ApplicationError(f"{problem}: {' '.join(exc.messages)}", field=name) from exc
    return parsed


def parse_range(params: dict[str, Any], now: datetime | None = None) -> tuple[datetime, datetime, int]:
    """start/end (see `parse_moment`), step in seconds; defaults: the last hour in ~360 points."""
    now = now or timezone.now()

    def moment(name: str, default: datetime) -> datetime:
        raw = params.get(name)
        return default if raw in (None, "") else parse_moment(raw, name, now=now)

    end = moment("end", now)
    start = moment("start", end - timedelta(hours=1))
    if start >= end:
        raise ApplicationError("start must be before end", field="start")
    span_s = (end - start).total_seconds()
    if span_s > settings.RAYLANE_METRICS_ROLLUP_RETENTION_S + 86400:
        raise ApplicationError("the range is longer than the metrics are kept", field="start")
    raw_step = params.get("step")
    if raw_step in (None, ""):
        step_s = max(1, int(span_s // 360))
    else:
        try:
            step_s = int(str(raw_step).rstrip("s"))
        except ValueError as exc:
            raise ApplicationError(f"step must be whole seconds, not {raw_step!r}", field="step") from exc
        if step_s < 1:
            raise ApplicationError("step must be at least 1 second", field="step")
    if span_s / step_s > MAX_POINTS:
        raise ApplicationError(
            f"{span_s / step_s:.0f} points: use a step of at least {span_s / MAX_POINTS:.0f} s", field="step"
        )
    return start, end, step_s


def metric_series(
    *, deployment: Deployment, start: datetime, end: datetime, step_s: int, version: int | None = None
) -> dict[str, Any]:
    """Per-version points from raw samples while they are kept and the step is under a minute, else roll-ups."""
    raw_kept_since = timezone.now() - timedelta(seconds=settings.RAYLANE_METRICS_RAW_RETENTION_S)
    use_rollups = step_s >= ROLLUP_STEP_S or start < raw_kept_since
    if use_rollups:
        step_s = max(ROLLUP_STEP_S, step_s - step_s % ROLLUP_STEP_S)
    source_step = ROLLUP_STEP_S if use_rollups else RAW_STEP_S
    rows = MetricSample.objects.filter(deployment=deployment, step_s=source_step, at__gte=start, at__lt=end)
    if version is not None:
        rows = rows.filter(version=version)
    series: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for merged_bin in merged(list(rows.order_by("at", "id")), start, step_s):
        series[merged_bin.version].append(point(merged_bin, step_s))
    return {
        "deployment": deployment.pk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step_s": step_s,
        "source": "rollup" if use_rollups else "raw",
        "series": [{"version": number, "points": points} for number, points in sorted(series.items())],
    }


# --- roll-ups and retention -------------------------------------------------------------------------------------


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def rollup_metrics(*, now: datetime | None = None) -> int:
    """Roll complete minutes of raw samples up into 1-minute samples, from the last roll-up on. Idempotent: a
    minute is replaced whole. Returns how many roll-up rows were written."""
    now = now or timezone.now()
    end = minute(now - timedelta(seconds=ROLLUP_GRACE_S))
    last = MetricSample.objects.filter(step_s=ROLLUP_STEP_S).aggregate(last=Max("at"))["last"]
    first_raw = MetricSample.objects.filter(step_s=RAW_STEP_S).aggregate(first=Min("at"))["first"]
    if first_raw is None:
        return 0
    start = last + timedelta(seconds=ROLLUP_STEP_S) if last else minute(first_raw)
    start = max(start, minute(now - timedelta(seconds=settings.RAYLANE_METRICS_RAW_RETENTION_S)))
    if start >= end:
        return 0
    raw = MetricSample.objects.filter(step_s=RAW_STEP_S, at__gte=start, at__lt=end).order_by("at", "id")
    groups: dict[tuple[int, int, datetime], Bin] = {}
    for sample in raw:
        key = (sample.deployment_id, sample.version, minute(sample.at))
        if key not in groups:
            groups[key] = Bin(version=sample.version, at=key[2])
        groups[key].add(sample)
    rollups = [
        MetricSample.of(
            merged_bin, deployment_id=deployment_id, at=at, step_s=ROLLUP_STEP_S, ongoing=merged_bin.ongoing
        )
        for (deployment_id, _, at), merged_bin in groups.items()
    ]
    with transaction.atomic():
        MetricSample.objects.filter(step_s=ROLLUP_STEP_S, at__gte=start, at__lt=end).delete()
        MetricSample.objects.bulk_create(rollups)
    return len(rollups)


def prune_metrics(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    raw_cutoff = now - timedelta(seconds=settings.RAYLANE_METRICS_RAW_RETENTION_S)
    rollup_cutoff = now - timedelta(seconds=settings.RAYLANE_METRICS_ROLLUP_RETENTION_S)
    raw, _ = MetricSample.objects.filter(step_s=RAW_STEP_S, at__lt=raw_cutoff).delete()
    rollups, _ = MetricSample.objects.filter(step_s=ROLLUP_STEP_S, at__lt=rollup_cutoff).delete()
    return {"raw": raw, "rollups": rollups}


# --- what the rollout analysis reads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    ready: int
    total: int
    failed: int
    at: datetime | None


def totals_since(
    *, deployment_id: int, versions: list[int], after_id: int, not_before: datetime
) -> tuple[dict[int, Bin], int]:
    """Per-version totals of the raw samples written after sample id `after_id` (and not before `not_before`),
    and the id to continue from next time."""
    rows = list(
        MetricSample.objects.filter(
            deployment_id=deployment_id, step_s=RAW_STEP_S, version__in=versions, id__gt=after_id, at__gte=not_before
        ).order_by("id")
    )
    totals = {number: Bin(version=number, at=not_before) for number in versions}
    for row in rows:
        totals[row.version].add(row)
    return totals, (rows[-1].id if rows else after_id)


def latest_readiness(*, deployment_id: int, version: int) -> Readiness | None:
    row = (
        MetricSample.objects.filter(deployment_id=deployment_id, step_s=RAW_STEP_S, version=version)
        .order_by("-id")
        .only("replicas_total", "replicas_ready", "replicas_failed", "at")
        .first()
    )
    if row is None:
        return None
    return Readiness(row.replicas_ready, row.replicas_total, row.replicas_failed, row.at)
