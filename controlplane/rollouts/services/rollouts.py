"""Rollout services: start one, command it (pause, resume, promote, abort), advance it one tick, restart stalled
tick chains.

Each loads the rows under a lock on the deployment (so two workers never advance the same rollout), asks the pure
engine what to do, saves the new state and its events in the same transaction, and after commit reconciles the
cluster and schedules the next tick. A worker that dies mid-tick changes nothing: the next tick recomputes from the
database.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.services import audit_record
from controlplane.core.errors import ApplicationError, Conflict, NotFound
from controlplane.registry.models import ModelVersion

from .. import engine
from ..choices import ACTIVE_PHASES
from ..desired import trusted_pool_refusal
from ..models import Deployment, Rollout, RolloutPolicy
from ..policies import policy_problems
from .deployments import deployment_quota_enforce
from .state import (
    after_commit,
    engine_policy,
    latest_observation,
    locked,
    policy_snapshot,
    record,
    save,
    schedule_tick,
    state_fields,
    state_from_json,
)


def rollout_start(
    *, deployment: Deployment, version: ModelVersion, policy: RolloutPolicy | None, user: User
) -> Rollout:
    """Start rolling `version` out with `policy` (None: the deployment's default policy). One active rollout per
    deployment; the candidate must be a deployable version of the model, not the stable one."""
    policy = policy or deployment.default_policy
    if policy is None:
        raise ApplicationError("name a policy: this deployment has no default policy", field="policy")
    if deployment.stable_version is None:
        raise ApplicationError("this deployment serves no version yet; set its stable_version first", field="version")
    if version.model_id != deployment.model_id:
        raise ApplicationError(f"version {version} belongs to another model", field="version")
    if not version.deployable:
        raise ApplicationError(
            f"{version} is not deployable: {version.get_validation_status_display()}", field="version"
        )
    if version.pk == deployment.stable_version_id:
        raise ApplicationError(f"{version} is already the stable version", field="version")
    if policy.team_id != deployment.team_id:
        raise ApplicationError("the policy belongs to another team", field="policy")
    if refusal := trusted_pool_refusal(pooled=deployment.pooled, versions=[version]):
        raise ApplicationError(refusal, field="pooled")
    snapshot = policy_snapshot(policy)
    if problems := policy_problems(snapshot):  # a row saved around the validator never reaches the engine
        found = "; ".join(f"{name}: {message}" for name, messages in problems.items() for message in messages)
        raise ApplicationError(f"policy '{policy.name}' cannot run ({found}); correct it first", field="policy")
    decision = engine.start(engine_policy(snapshot), time.time())
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        active = deployment.rollouts.filter(phase__in=ACTIVE_PHASES).first()
        if active is not None:
            raise Conflict(f"deployment '{deployment}' already has an active rollout ({active}, {active.phase})")
        # A dedicated deployment gives the candidate replicas of its own: that must fit the team's quota too.
        deployment_quota_enforce(team=deployment.team, deployment=deployment, changes={}, candidate=version)
        stable = deployment.stable_version
        if stable is None:  # undeployed since the check above, which ran before the lock
            raise ApplicationError(
                "this deployment serves no version yet; set its stable_version first", field="version"
            )
        try:
            with transaction.atomic():
                rollout = Rollout.objects.create(
                    deployment=deployment,
                    from_version=stable,
                    to_version=version,
                    from_number=stable.version,
                    to_number=version.version,
                    policy=policy,
                    policy_snapshot=snapshot,
                    created_by=user,
                    **state_fields(decision.state),
                )
        except IntegrityError as exc:  # a concurrent start won the race
            raise Conflict(f"deployment '{deployment}' already has an active rollout") from exc
        record(rollout, decision.events, actor=user)
        audit_record(
            actor=user,
            action=AuditAction.CREATE,
            target=rollout,
            team=deployment.team,
            changes={"from": rollout.from_number, "to": rollout.to_number, "policy": policy.name},
        )
        after_commit(rollout)
    return rollout


def rollout_command(*, rollout: Rollout, command: engine.Command, user: User) -> Rollout:
    with transaction.atomic():
        current = locked(rollout.pk)
        if current is None:  # deleted (with its deployment) since the caller read it
            raise NotFound(f"rollout {rollout.pk} no longer exists")
        rollout = current
        state = state_from_json(rollout.engine_state)
        # The engine alone says which command is legal now (engine.allowed_commands): refused ones change nothing.
        observation = latest_observation(rollout) if rollout.active else engine.Observation()
        decision = engine.advance(engine_policy(rollout.policy_snapshot), state, observation, time.time(), command)
        refused = [event for event in decision.events if event.kind == "refused"]
        if refused:
            raise Conflict(refused[0].message)
        save(rollout, decision, actor=user)
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=rollout,
            team=rollout.deployment.team,
            changes={"command": command.value, "phase": rollout.phase},
        )
        after_commit(rollout)
    return rollout


def rollout_tick(*, rollout_id: int) -> Rollout | None:
    """One step of the engine for an active rollout, with the latest observation. Idempotent."""
    with transaction.atomic():
        rollout = locked(rollout_id)
        if rollout is None or not rollout.active:
            return rollout
        state = state_from_json(rollout.engine_state)
        observation = latest_observation(rollout)
        decision = engine.advance(engine_policy(rollout.policy_snapshot), state, observation, time.time())
        if decision.state != state or decision.events:
            save(rollout, decision)
        Rollout.objects.filter(pk=rollout.pk).update(last_tick_at=timezone.now())
        after_commit(rollout, reconcile=decision.state.traffic != state.traffic or decision.state.phase.terminal)
    return rollout


def rollouts_resume_stalled(*, stalled_after_s: int | None = None) -> list[int]:
    """Restart the tick chain of active rollouts nobody advanced lately (a broker restart lost the countdown, or
    the worker died holding it: Redis would only redeliver it after the visibility timeout)."""
    stalled_after_s = settings.RAYLANE_ROLLOUT_STALLED_S if stalled_after_s is None else stalled_after_s
    cutoff = timezone.now() - timedelta(seconds=stalled_after_s)
    stalled = Rollout.objects.filter(phase__in=ACTIVE_PHASES).filter(
        models.Q(last_tick_at__lt=cutoff) | models.Q(last_tick_at__isnull=True, created_at__lt=cutoff)
    )
    ids = list(stalled.values_list("pk", flat=True))
    for rollout_id in ids:
        schedule_tick(rollout_id, countdown=0)
    return ids
