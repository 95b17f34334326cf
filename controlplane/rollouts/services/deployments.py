"""Deployment services: create, change, roll back and delete a deployment, within its team's quota and never
underneath an active rollout. Every change of what serves records a deployment event."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.models import Team
from controlplane.accounts.services import apply_changes, audit_record
from controlplane.core.errors import ApplicationError, Conflict
from controlplane.registry.models import Model, ModelVersion

from .. import quotas
from ..choices import ACTIVE_PHASES
from ..desired import held_versions, trusted_pool_refusal
from ..models import Deployment, Rollout
from .state import rollout_traffic, rollouts_abort, schedule_reconcile, stable_change_record


def deployment_quota_enforce(
    *,
    team: Team,
    deployment: Deployment | None,
    changes: dict[str, Any],
    candidate: ModelVersion | None = None,
) -> None:
    """Refuse creating or changing a deployment (`changes`: the validated fields of the request) when the team's
    deployments would then reserve more than its quota (rollouts.quotas), naming the field and the numbers. Call it
    inside the transaction that saves the change: it locks the team's row, so two concurrent changes of one team
    cannot both fit in the same room. `candidate` is a version a rollout is about to add to the replicas."""
    if deployment is not None:  # always the deployment before the team, as rollout_start does: no deadlock
        Deployment.objects.select_for_update().filter(pk=deployment.pk).first()
    Team.objects.select_for_update().filter(pk=team.pk).first()
    rollouts = {
        rollout.deployment_id: rollout
        for rollout in Rollout.objects.filter(phase__in=ACTIVE_PHASES, deployment__team=team)
    }
    team_deployments = Deployment.objects.filter(team=team)
    if deployment is not None:
        team_deployments = team_deployments.exclude(pk=deployment.pk)
    others = quotas.total(deployment_reservation(other, rollouts.get(other.pk)) for other in team_deployments)
    old = deployment_reservation(deployment, rollouts.get(deployment.pk)) if deployment is not None else None

    def current(name: str, default: Any) -> Any:
        return changes[name] if name in changes else getattr(deployment, name, default)

    stable = current("stable_version", None)
    held = 0 if stable is None else 1
    rollout = rollouts.get(deployment.pk) if deployment is not None else None
    adding = candidate.pk if candidate is not None else (rollout.to_version_id if rollout is not None else None)
    if stable is not None and adding is not None and adding != stable.pk:
        held = 2
    new = quotas.reservation(
        autoscaling=current("autoscaling", {}) or {},
        resources=current("resources", {}) or {},
        pooled=bool(current("pooled", False)),
        versions_held=held,
    )
    blame_scaling = "autoscaling" in changes and "resources" not in changes
    quotas.quota_check(
        team=team,
        others=others,
        old=old or quotas.Reservation(),
        new=new,
        field_for={
            "replicas": "autoscaling.max_replicas",
            "cpus": "autoscaling.max_replicas" if blame_scaling else "resources.num_cpus",
            "gpus": "autoscaling.max_replicas" if blame_scaling else "resources.num_gpus",
            "custom": "autoscaling.max_replicas" if blame_scaling else "resources.custom",
        },
    )


def deployment_reservation(deployment: Deployment, rollout: Rollout | None) -> quotas.Reservation:
    """What a saved deployment reserves now: its stable version, and the candidate of its active rollout."""
    held = 0
    if deployment.stable_version_id is not None:
        held = 1
        if rollout is not None and rollout.to_version_id not in (None, deployment.stable_version_id):
            held = 2
    return quotas.reservation(
        autoscaling=deployment.autoscaling or {},
        resources=deployment.resources or {},
        pooled=deployment.pooled,
        versions_held=held,
    )


def deployment_rollback(*, deployment: Deployment, version: ModelVersion, user: User) -> Deployment:
    """Serve `version` again at 100% in one call, aborting any active rollout first (both are recorded)."""
    if version.model_id != deployment.model_id:
        raise ApplicationError(f"version {version} belongs to another model", field="version")
    if not version.deployable:
        raise ApplicationError(f"{version} is not deployable", field="version")
    if refusal := trusted_pool_refusal(pooled=deployment.pooled, versions=[version]):
        raise ApplicationError(refusal, field="pooled")
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        rollouts_abort(deployment=deployment, user=user)
        before = deployment.stable_version
        deployment.stable_version = version
        deployment.save(update_fields=["stable_version", "updated_at"])
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=deployment,
            team=deployment.team,
            changes={"rollback": {"from": before.version if before else None, "to": version.version}},
        )
        stable_change_record(deployment=deployment, before=before, user=user, rollback=True)
        transaction.on_commit(schedule_reconcile)
    return deployment


# Deployment fields whose change alters which versions serve: refused while a rollout steers the traffic.

SERVING_FIELDS = ("stable_version",)


def deployment_create(
    *, model: Model, user: User, stable_version: ModelVersion | None = None, **settings: Any
) -> Deployment:
    """Deploy a model (`settings`: default_policy, autoscaling, batching, resources, pooled, pins, require_key,
    limits), within its team's quota. With a stable version it serves at once, which records a "deployed" event."""
    changes = {"stable_version": stable_version, **settings}
    with transaction.atomic():  # the quota check locks the team until the deployment is saved
        if Deployment.objects.filter(model=model).exists():
            raise ApplicationError(f"Model '{model}' already has a deployment.", field="model")
        deployment_rules_check(model=model, deployment=None, changes=changes)
        deployment_quota_enforce(team=model.team, deployment=None, changes=changes)
        deployment = Deployment(model=model, team=model.team, created_by=user)
        changed = apply_changes(deployment, changes)
        deployment.save()
        created = {"model": model.name, **{name: change["to"] for name, change in changed.items()}}
        audit_record(actor=user, action=AuditAction.CREATE, target=deployment, team=model.team, changes=created)
        if deployment.stable_version_id is not None:
            stable_change_record(deployment=deployment, before=None, user=user)
        transaction.on_commit(schedule_reconcile)
    return deployment


def deployment_rules_check(*, model: Model, deployment: Deployment | None, changes: dict[str, Any]) -> None:
    """The rules a deployment's settings obey, whoever sets them: what serves is a deployable version of this model,
    the default policy is the team's own, and trusted versions (their own code) never share pooled replicas."""
    stable = changes.get("stable_version")
    if stable is not None and (deployment is None or stable.pk != deployment.stable_version_id):
        if stable.model_id != model.pk:
            raise ApplicationError(f"version {stable} belongs to another model", field="stable_version")
        if not stable.deployable:
            raise ApplicationError(
                f"{stable} is not deployable: {stable.get_validation_status_display()}.", field="stable_version"
            )
    policy = changes.get("default_policy")
    if policy is not None and policy.team_id != model.team_id:
        raise ApplicationError("The policy belongs to another team.", field="default_policy")
    held = held_versions(deployment) if deployment is not None else [None]
    stable = changes["stable_version"] if "stable_version" in changes else held[0]
    pooled = changes.get("pooled", getattr(deployment, "pooled", False))
    if refusal := trusted_pool_refusal(pooled=pooled, versions=[stable, *held[1:]]):
        raise ApplicationError(refusal, field="pooled")


def deployment_update(
    *,
    deployment: Deployment,
    changes: dict[str, Any],
    user: User,
    abort_rollout: bool = False,
) -> Deployment:
    """Change a deployment's settings (`changes`: validated fields). A change of what serves while a rollout is
    active would replace the stable version underneath it: refused (409) with the rollout's state, unless the
    caller asks to abort the rollout first (`abort_rollout`), which the engine does and both events record."""
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("stable_version", "model")
            .get(pk=deployment.pk)
        )
        before = deployment.stable_version
        serving = [name for name in SERVING_FIELDS if name in changes and changes[name] != getattr(deployment, name)]
        active = deployment.rollouts.filter(phase__in=ACTIVE_PHASES).first()
        if serving and active is not None:
            if not abort_rollout:
                raise Conflict(
                    f"rollout #{active.pk} is {active.phase} ({rollout_traffic(active)}); abort it first, "
                    "or send abort_rollout=true",
                    field=serving[0],
                    extra={"rollout": active.pk},
                )
            rollouts_abort(deployment=deployment, user=user)
        deployment_rules_check(model=deployment.model, deployment=deployment, changes=changes)
        deployment_quota_enforce(team=deployment.team, deployment=deployment, changes=changes)
        changed = apply_changes(deployment, changes)
        deployment.save()
        audit_record(actor=user, action=AuditAction.UPDATE, target=deployment, team=deployment.team, changes=changed)
        if deployment.stable_version_id != (before.pk if before else None):
            stable_change_record(deployment=deployment, before=before, user=user)
        transaction.on_commit(schedule_reconcile)
    return deployment


def deployment_delete(*, deployment: Deployment, user: User) -> None:
    """Undeploy: the model's route stops answering once the cluster is reconciled. Its rollouts and events go
    with it; the audit entry stays."""
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().select_related("model", "team").get(pk=deployment.pk)
        audit_record(
            actor=user,
            action=AuditAction.DELETE,
            target=deployment,
            team=deployment.team,
            changes={"model": deployment.model.name},
        )
        deployment.delete()
        transaction.on_commit(schedule_reconcile)
