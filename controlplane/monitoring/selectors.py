"""Reads of the monitor's samples: a deployment's metric series over a range, and what the rollout analysis reads
(handed to rollouts.observers at startup, since rollouts may not import monitoring)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from controlplane.rollouts.models import Deployment

from .bins import Bin, merged, point
from .models import RAW_STEP_S, ROLLUP_STEP_S, MetricSample


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
