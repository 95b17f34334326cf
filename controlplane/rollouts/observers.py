"""Gathers the engine's observation for a rollout from the cluster: readiness of the candidate on every model
server replica, and request/error/latency deltas since the last analysis."""

from __future__ import annotations

import logging

from serving.cluster import ServeClusterError

from . import engine
from .cluster import serve_cluster
from .models import Rollout
from .observe import observe, server_apps

logger = logging.getLogger(__name__)


def observe_rollout(rollout: Rollout) -> engine.Observation:
    """Reads the cluster. The new counter snapshot goes to `rollout.next_counters`; `save` keeps it when an analysis
    used this observation, so every analysis compares against the previous one."""
    model = rollout.deployment.model.name
    cluster = serve_cluster()
    try:
        status = cluster.status()
        replicas = set()
        for name in server_apps(model):
            application = status.applications.get(name)
            if application is not None:
                replicas |= application.replica_ids()
        text = cluster.metrics_text()
    except ServeClusterError as exc:
        logger.warning("cannot observe %s: %s", rollout, exc)
        return engine.Observation()
    previous = rollout.counters or {}
    observation, snapshot = observe(
        metrics_text=text,
        model=model,
        stable=rollout.from_number,
        candidate=rollout.to_number,
        replica_ids=replicas,
        previous=previous,
    )
    rollout.next_counters = snapshot
    return observation
