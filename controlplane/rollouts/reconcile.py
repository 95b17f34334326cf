"""Reconciliation: make the cluster run what the database says, and nothing else.

Idempotent and safe to run from anywhere at any time: it computes the whole Serve config from the database, and
PUTs it only when it differs from what was last applied or when the cluster drifted (restarted, edited by hand).
A row lock serialises concurrent runs.
"""

import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from serving.cluster import ServeCluster, ServeClusterError
from serving.config import config_hash, serve_config
from serving.serve_status import ClusterStatus

from .desired import fleet_spec
from .models import ReconcileState
from .serve_target import serve_cluster


@dataclass(frozen=True)
class ReconcileOutcome:
    applied: bool
    config_hash: str
    reason: str
    error: str = ""


def cluster_drift(status: ClusterStatus, config: dict[str, Any]) -> str | None:
    """Why the running cluster differs from `config`, or None when it runs exactly that."""
    wanted = {app["name"]: app for app in config["applications"]}
    running = status.applications
    missing, unexpected = sorted(set(wanted) - set(running)), sorted(set(running) - set(wanted))
    if missing or unexpected:
        return f"applications differ (missing {missing}, unexpected {unexpected})"
    for name, app in wanted.items():
        deployed = running[name].deployed_config or {}
        if deployed.get("route_prefix") != app["route_prefix"] or deployed.get("import_path") != app["import_path"]:
            return f"{name}: route or code differs"
        deployed_user_configs = {d.get("name"): d.get("user_config") for d in deployed.get("deployments", [])}
        for deployment in app["deployments"]:
            if deployed_user_configs.get(deployment["name"]) != deployment.get("user_config"):
                return f"{name}: {deployment['name']} runs another user_config"
    return None


def reconcile(*, cluster: ServeCluster | None = None, force: bool = False) -> ReconcileOutcome:
    cluster = cluster or serve_cluster()
    started = time.monotonic()
    with transaction.atomic():
        state, _ = ReconcileState.objects.select_for_update().get_or_create(pk=1)
        config = serve_config(fleet_spec())
        digest = config_hash(config)
        state.attempted_at = timezone.now()
        state.runs += 1
        timing = ["attempted_at", "runs", "last_duration_s"]
        try:
            drift = cluster_drift(cluster.status(), config)
            if not force and drift is None and digest == state.applied_hash:
                state.last_duration_s = time.monotonic() - started
                state.save(update_fields=timing)
                return ReconcileOutcome(applied=False, config_hash=digest, reason="in sync")
            reason = "forced" if force else drift or "desired state changed"
            cluster.apply(config)
        except ServeClusterError as exc:
            state.last_error, state.failures = str(exc), state.failures + 1
            state.last_duration_s = time.monotonic() - started
            state.save(update_fields=[*timing, "last_error", "failures"])
            return ReconcileOutcome(applied=False, config_hash=digest, reason="failed", error=str(exc))
        state.applied_hash, state.applied_config, state.applied_at, state.last_error = (
            digest,
            config,
            timezone.now(),
            "",
        )
        state.last_duration_s = time.monotonic() - started
        state.save()
        return ReconcileOutcome(applied=True, config_hash=digest, reason=reason)
