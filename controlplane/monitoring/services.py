"""Writes of the monitor's samples: 1-minute roll-ups and retention (the monitor process stores the raw samples,
monitoring.collector)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from .bins import Bin, minute
from .models import RAW_STEP_S, ROLLUP_STEP_S, MetricSample

ROLLUP_GRACE_S = 5  # a minute is rolled up once its last raw sample had time to arrive


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
