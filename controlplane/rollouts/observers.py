"""The engine's observation for a rollout, read from the monitor's samples in Postgres: the candidate's readiness
on every model server replica (the latest sample), and request/error/latency totals since the last analysis.

Only the weighted split's answers count, 4xx excluded (the `split_*` sample columns): a request pinned with
`X-Raylane-Version` and a body the server refuses are things any client can send at will, so a flood of either must
neither fail a healthy candidate nor pass a broken one."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from controlplane.monitoring.services import Bin, latest_readiness, totals_since
from serving.histogram import quantile

from . import engine
from .models import Rollout

logger = logging.getLogger(__name__)
FRESH_S = 5  # readiness older than this is not evidence: the monitor is behind or not running


def observe_rollout(rollout: Rollout) -> engine.Observation:
    """`rollout.next_counters` gets the sample id this observation read up to; `save` keeps it when an analysis
    used the observation, so each analysis covers the samples since the previous one."""
    deployment = rollout.deployment
    candidate, stable = rollout.to_number, rollout.from_number
    readiness = latest_readiness(deployment_id=deployment.pk, version=candidate)
    fresh = readiness is not None and readiness.at >= timezone.now() - timedelta(seconds=FRESH_S + 1)
    blind = ""
    if readiness is None or not fresh:
        blind = f"no sample of v{candidate} in the last {FRESH_S} s; is the monitor (manage.py monitor) running?"
        logger.info("%s: %s", rollout, blind)
    failed = ""
    if fresh and readiness.failed:
        failed = (
            f"v{candidate} failed to load on {readiness.failed} replica(s); "
            f"GET /v2/models/{deployment.model.name} names the reason"
        )
    if deployment.pooled:  # pool replicas load a version on its first request: none failing is the evidence
        ready = fresh and readiness.total > 0 and not readiness.failed
    else:
        ready = fresh and readiness.total > 0 and readiness.ready >= readiness.total and not readiness.failed
    after_id = int((rollout.counters or {}).get("sample_id", 0))
    versions = [number for number in (candidate, stable) if number]
    totals, last_id = totals_since(
        deployment_id=deployment.pk, versions=versions, after_id=after_id, not_before=rollout.created_at
    )
    rollout.next_counters = {"sample_id": last_id}
    mine, theirs = totals.get(candidate), totals.get(stable)
    return engine.Observation(
        candidate_ready=bool(ready),
        candidate_failed=failed,
        candidate=stats(mine),
        stable=stats(theirs),
        shadow_requests=mine.shadow_requests if mine else 0,
        shadow_agreements=mine.shadow_agreements if mine else 0,
        blind=blind,
    )


def stats(totals: Bin | None) -> engine.VersionStats:
    if totals is None:
        return engine.VersionStats()
    return engine.VersionStats(
        requests=totals.split_requests,
        errors=totals.split_errors,
        p99_ms=quantile(totals.split_latency_buckets, 0.99),
    )
