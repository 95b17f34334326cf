"""`/metrics`: the control plane in Prometheus' text format, for operators' own Prometheus and Grafana.

Every value is read when scraped (from Postgres and Redis), so any web process answers the same, whichever
process did the work (reconcile runs in Celery workers, sampling in the monitor).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from rest_framework import exceptions

from controlplane.accounts.authentication import BearerTokenAuthentication
from controlplane.rollouts.choices import RolloutPhase
from controlplane.rollouts.models import Deployment, ReconcileState, Rollout

from .collector import heartbeat, lag_seconds


class ControlPlaneCollector:
    def collect(self) -> Iterator[Metric]:
        phases = GaugeMetricFamily("raylane_rollouts", "Rollouts by phase", labels=["phase"])
        counts = dict(Rollout.objects.values_list("phase").annotate(count=Count("id")))
        for phase in RolloutPhase.values:
            phases.add_metric([phase], counts.get(phase, 0))
        yield phases
        yield GaugeMetricFamily("raylane_deployments", "Deployed models", value=Deployment.objects.count())

        state = ReconcileState.objects.filter(pk=1).first()
        yield GaugeMetricFamily(
            "raylane_reconcile_duration_seconds",
            "How long the last reconcile took",
            value=state.last_duration_s if state else 0,
        )
        yield CounterMetricFamily("raylane_reconcile_runs", "Reconcile runs", value=state.runs if state else 0)
        yield CounterMetricFamily(
            "raylane_reconcile_failures", "Reconcile runs that failed", value=state.failures if state else 0
        )
        yield GaugeMetricFamily(
            "raylane_reconcile_last_applied_timestamp_seconds",
            "When a Serve config was last applied",
            value=state.applied_at.timestamp() if state and state.applied_at else 0,
        )
        yield GaugeMetricFamily(
            "raylane_reconcile_in_error",
            "1 while the last reconcile failed",
            value=int(bool(state and state.last_error)),
        )

        lag = lag_seconds()
        beat = heartbeat() or {}
        yield GaugeMetricFamily(
            "raylane_monitor_lag_seconds",
            "Seconds since the monitor's last pass (NaN: no monitor ever ran)",
            value=float("nan") if lag is None else lag,
        )
        yield GaugeMetricFamily(
            "raylane_monitor_pass_duration_seconds",
            "How long the monitor's last pass took",
            value=beat.get("duration_s", 0.0),
        )
        yield GaugeMetricFamily(
            "raylane_monitor_cluster_error",
            "1 while the monitor cannot read the cluster",
            value=int(bool(beat.get("error"))),
        )


def authorized(request: HttpRequest) -> bool:
    """The RAYLANE_METRICS_TOKEN as a bearer token, or a site admin (session or API token)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = settings.RAYLANE_METRICS_TOKEN
    if token and scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.is_superuser
    try:
        found = BearerTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed:
        return False
    return found is not None and found[0].is_superuser


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not authorized(request):
        response = HttpResponse(
            "Unauthorized: send Authorization: Bearer <RAYLANE_METRICS_TOKEN>, or sign in as a site admin.\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ControlPlaneCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
