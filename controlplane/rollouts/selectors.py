"""Reads for rollouts: the deployments, policies and rollouts a user may see (scoped by team in
accounts.selectors), and a deployment's events."""

from datetime import datetime

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from controlplane.accounts.selectors import Viewer, scope_to_teams

from .models import Deployment, Rollout, RolloutEvent, RolloutPolicy


def deployments_visible(*, user: Viewer) -> QuerySet[Deployment]:
    deployments = Deployment.objects.select_related("team", "model", "stable_version", "created_by")
    return scope_to_teams(deployments, user)


def deployment_visible(*, user: Viewer, pk: int) -> Deployment:
    """One deployment of `user`'s teams; 404 for another team's as for a missing one, so nothing is revealed."""
    return get_object_or_404(deployments_visible(user=user), pk=pk)


def policies_visible(*, user: Viewer) -> QuerySet[RolloutPolicy]:
    return scope_to_teams(RolloutPolicy.objects.select_related("team", "created_by"), user)


def rollouts_visible(*, user: Viewer) -> QuerySet[Rollout]:
    rollouts = Rollout.objects.select_related("deployment__model", "deployment__team", "created_by")
    return scope_to_teams(rollouts, user, team_field="deployment__team").prefetch_related("events")


def deployment_events(*, deployment: Deployment, since: datetime | None = None, limit: int) -> list[RolloutEvent]:
    """The newest `limit` events of a deployment (its rollouts' and its own: deploys, rollbacks), oldest first."""
    events = RolloutEvent.objects.filter(deployment=deployment)
    if since is not None:
        events = events.filter(at__gt=since)
    return list(events.order_by("-at", "-id")[:limit])[::-1]
