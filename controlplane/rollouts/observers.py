"""The engine's observation for a rollout, read from the monitor's samples in Postgres: the candidate's readiness
on every model server replica (the latest sample), and both versions' requests, errors and latency histograms
(bucket counts with their bounds, for the engine's statistics) over the analysis window.

The window is the samples after `rollout.counters["sample_id"]`, the same rows for both versions. It moves on only
when the engine says so (`Decision.restart_window`, kept by `services.state.save`): after an analysis that passed or
failed, or when traffic moved. An inconclusive analysis (too few requests) leaves it open, so the next one judges
the requests of both intervals instead of starting again from nothing.

Only the weighted split's answers count, 4xx excluded (the `split_*` sample columns): a request pinned with
`X-Raylane-Version` and a body the server refuses are things any client can send at will, so a flood of either must
neither fail a healthy candidate nor pass a broken one.

The samples belong to monitoring, which sits above rollouts (it reads rollouts, never the reverse), so this module
does not import it: monitoring hands its reader in when it starts (`MonitoringConfig.ready` calls `read_samples_from`
with `controlplane.monitoring.selectors`), and an import-linter contract keeps it that way."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from django.utils import timezone

from serving.histogram import LATENCY_BOUNDARIES_MS
from serving.metrics_reader import VersionActivity

from . import engine
from .models import Rollout
from .statistics import Histogram, Names

logger = logging.getLogger(__name__)
FRESH_S = 5  # readiness older than this is not evidence: the monitor is behind or not running


class Readiness(Protocol):
    """The candidate's replicas in the latest sample."""

    @property
    def ready(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def at(self) -> datetime | None: ...


class SampleReader(Protocol):
    """What an observation reads from the monitor's samples; `controlplane.monitoring.selectors` provides it."""

    def latest_readiness(self, *, deployment_id: int, version: int) -> Readiness | None: ...

    def totals_since(
        self, *, deployment_id: int, versions: list[int], after_id: int, not_before: datetime
    ) -> tuple[Mapping[int, VersionActivity], int]: ...


samples: SampleReader | None = None


def read_samples_from(reader: SampleReader) -> None:
    """Called once at startup by the app that owns the samples (monitoring)."""
    global samples
    samples = reader


def sample_reader() -> SampleReader:
    if samples is None:
        raise RuntimeError("no metric sample reader: is controlplane.monitoring in INSTALLED_APPS?")
    return samples


def observe_rollout(rollout: Rollout) -> engine.Observation:
    """`rollout.next_counters` gets the sample id this observation read up to; `save` keeps it when the engine
    restarts the window (see the module docstring)."""
    deployment = rollout.deployment
    candidate, stable = rollout.to_number, rollout.from_number
    reader = sample_reader()
    latest = reader.latest_readiness(deployment_id=deployment.pk, version=candidate)
    cutoff = timezone.now() - timedelta(seconds=FRESH_S + 1)
    # Only a fresh sample is evidence: `readiness` is None without one.
    readiness = latest if latest is not None and latest.at is not None and latest.at >= cutoff else None
    blind = ""
    if readiness is None:
        blind = f"no sample of v{candidate} in the last {FRESH_S} s; is the monitor (manage.py monitor) running?"
        logger.info("%s: %s", rollout, blind)
    failed = ""
    if readiness is not None and readiness.failed:
        failed = (
            f"v{candidate} failed to load on {readiness.failed} replica(s); "
            f"GET /v2/models/{deployment.model.name} names the reason"
        )
    if readiness is None:
        ready = False
    elif deployment.pooled:  # pool replicas load a version on its first request: none failing is the evidence
        ready = readiness.total > 0 and not readiness.failed
    else:
        ready = readiness.total > 0 and readiness.ready >= readiness.total and not readiness.failed
    after_id = int((rollout.counters or {}).get("sample_id", 0))
    versions = [number for number in (candidate, stable) if number]
    totals, last_id = reader.totals_since(
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
        names=Names(candidate=f"v{candidate}", stable=f"v{stable}"),
    )


def stats(totals: VersionActivity | None) -> engine.VersionStats:
    """One version's split requests in the window, with the latency histogram's bounds as data: the engine may not
    import serving."""
    if totals is None:
        return engine.VersionStats(latency=Histogram.of(LATENCY_BOUNDARIES_MS, []))
    return engine.VersionStats(
        requests=totals.split_requests,
        errors=totals.split_errors,
        latency=Histogram.of(LATENCY_BOUNDARIES_MS, totals.split_latency_buckets),
    )
