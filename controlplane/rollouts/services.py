"""Rollout services: start, pause/resume/promote/abort, tick; change a deployment or roll it back.

Each loads the rows under a lock on the deployment (so two workers never advance the same rollout), asks the pure
engine what to do, saves the new state and its events in the same transaction, and after commit reconciles the
cluster and schedules the next tick. A worker that dies mid-tick changes nothing: the next tick recomputes from the
database.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.models import Team
from controlplane.accounts.services import audit_record
from controlplane.core.broadcast import broadcast, group_name
from controlplane.core.errors import ApplicationError, Conflict
from controlplane.registry.models import ModelVersion

from . import engine, quotas
from .choices import ACTIVE_PHASES
from .desired import trusted_pool_refusal
from .models import Deployment, Rollout, RolloutEvent, RolloutPolicy
from .policies import policy_problems

TICK_MAX_S = 2.0


def policy_snapshot(policy: RolloutPolicy) -> dict[str, Any]:
    return {"name": policy.name, **policy.engine_settings()}


def engine_policy(snapshot: dict[str, Any]) -> engine.Policy:
    return engine.Policy(
        strategy=engine.Strategy(snapshot["strategy"]),
        steps=tuple(engine.Step(step["weight"], step.get("pause_s")) for step in snapshot.get("steps") or []),
        analysis=engine.Analysis(**(snapshot.get("analysis") or {})),
        on_failure=snapshot.get("on_failure", "rollback"),
        progress_deadline_s=snapshot.get("progress_deadline_s", 600),
        shadow_percent=snapshot.get("shadow_percent", 100),
        auto_promote_s=snapshot.get("auto_promote_s"),
        keep_warm_s=snapshot.get("keep_warm_s", 300),
    )


def state_to_json(state: engine.State) -> dict[str, Any]:
    return dataclasses.asdict(state)


def state_from_json(data: dict[str, Any]) -> engine.State:
    return engine.State(**{**data, "phase": engine.Phase(data["phase"]), "traffic": engine.Traffic(**data["traffic"])})


def rollout_start(
    *, deployment: Deployment, version: ModelVersion, policy: RolloutPolicy, user: AbstractBaseUser
) -> Rollout:
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
        try:
            with transaction.atomic():
                rollout = Rollout.objects.create(
                    deployment=deployment,
                    from_version=deployment.stable_version,
                    to_version=version,
                    from_number=deployment.stable_version.version,
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


def rollout_command(*, rollout: Rollout, command: engine.Command, user: AbstractBaseUser) -> Rollout:
    with transaction.atomic():
        rollout = locked(rollout.pk)
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


def deployment_rollback(*, deployment: Deployment, version: ModelVersion, user: AbstractBaseUser) -> Deployment:
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


def deployment_update(
    *,
    deployment: Deployment,
    changes: dict[str, Any],
    user: AbstractBaseUser,
    abort_rollout: bool = False,
    remote_addr: str | None = None,
) -> Deployment:
    """Change a deployment's settings (`changes`: validated fields). A change of what serves while a rollout is
    active would replace the stable version underneath it: refused (409) with the rollout's state, unless the
    caller asks to abort the rollout first (`abort_rollout`), which the engine does and both events record."""
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",)).select_related("stable_version").get(pk=deployment.pk)
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
        deployment_quota_enforce(team=deployment.team, deployment=deployment, changes=changes)
        previous = {name: audit_value(getattr(deployment, name, None)) for name in changes}
        for name, value in changes.items():
            setattr(deployment, name, value)
        deployment.save()
        changed = {
            name: {"from": previous[name], "to": audit_value(value)}
            for name, value in changes.items()
            if previous[name] != audit_value(value)
        }
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=deployment,
            team=deployment.team,
            changes=changed,
            remote_addr=remote_addr,
        )
        if deployment.stable_version_id != (before.pk if before else None):
            stable_change_record(deployment=deployment, before=before, user=user)
        transaction.on_commit(schedule_reconcile)
    return deployment


def audit_value(value: Any) -> Any:
    """A field's value as the audit log keeps it (rows by their primary key)."""
    return str(value.pk) if isinstance(value, models.Model) else value


def rollout_traffic(rollout: Rollout) -> str:
    """'canary 10%' or 'shadow, 100% mirrored': where a rollout's traffic stands, in a few words."""
    strategy = (rollout.policy_snapshot or {}).get("strategy", "rollout")
    if rollout.shadow_percent and not rollout.candidate_weight:
        return f"{strategy}, {rollout.shadow_percent}% mirrored"
    return f"{strategy} {rollout.candidate_weight}%"


def rollouts_abort(*, deployment: Deployment, user: AbstractBaseUser | None) -> None:
    """Abort the deployment's active rollout through the engine, recording its events. The caller holds the
    deployment's lock and changes the stable version next."""
    for rollout in deployment.rollouts.filter(phase__in=ACTIVE_PHASES):
        state = state_from_json(rollout.engine_state)
        decision = engine.advance(
            engine_policy(rollout.policy_snapshot), state, engine.Observation(), time.time(), engine.Command.ABORT
        )
        save(rollout, decision, actor=user)


def stable_change_record(
    *, deployment: Deployment, before: ModelVersion | None, user: AbstractBaseUser | None, rollback: bool = False
) -> None:
    """Record (and push) that the deployment now serves another stable version, as an event of the deployment:
    every path that changes what serves leaves one (rollout transitions record their own)."""
    after = deployment.stable_version
    old = before.version if before is not None else None
    new = after.version if after is not None else None
    was = f" (was v{old})" if old is not None else ""
    if new is None:
        kind, message = "undeployed", f"no version serves any more{was}"
    elif rollback or (old is not None and new < old):
        kind, message = "rolled_back", f"rolled back to v{new}{was}: all traffic on v{new}"
    else:
        kind, message = "deployed", f"v{new} is the stable version{was}: all traffic on v{new}"
    deployment_event_record(
        deployment=deployment, kind=kind, message=message, data={"from": old, "to": new}, actor=user
    )


# --- plumbing ---------------------------------------------------------------------------------------------------


def locked(rollout_id: int) -> Rollout | None:
    """The rollout, with its deployment's row locked for the rest of the transaction."""
    rollout = Rollout.objects.select_related("deployment").filter(pk=rollout_id).first()
    if rollout is None:
        return None
    Deployment.objects.select_for_update().filter(pk=rollout.deployment_id).get()
    return Rollout.objects.select_related("deployment__model", "deployment__team", "to_version").get(pk=rollout_id)


def state_fields(state: engine.State) -> dict[str, Any]:
    return {
        "phase": state.phase.value,
        "candidate_weight": state.traffic.candidate_weight,
        "shadow_percent": state.traffic.shadow_percent,
        "step_index": state.step_index,
        "reason": state.reason,
        "engine_state": state_to_json(state),
    }


def save(rollout: Rollout, decision: engine.Decision, *, actor: AbstractBaseUser | None = None) -> None:
    if any(event.kind == "analysis" for event in decision.events) and hasattr(rollout, "next_counters"):
        # The next analysis compares against what this one saw: move the counter snapshot forward.
        rollout.counters = rollout.next_counters
    for name, value in state_fields(decision.state).items():
        setattr(rollout, name, value)
    if decision.state.phase.terminal and rollout.finished_at is None:
        rollout.finished_at = timezone.now()
        if decision.state.phase == engine.Phase.SUCCEEDED and rollout.to_version is not None:
            deployment = rollout.deployment
            deployment.stable_version = rollout.to_version
            deployment.save(update_fields=["stable_version", "updated_at"])
    rollout.save()
    record(rollout, decision.events, actor=actor)


def rollout_allowed_commands(rollout: Rollout) -> list[str]:
    """The commands the engine allows in the rollout's state now (engine.allowed_commands), for the API and pushes:
    what a console or CLI offers. Promote is listed on the state alone; it is refused at once if the candidate
    turns out not to be loaded everywhere."""
    if not rollout.active:
        return []
    state = state_from_json(rollout.engine_state)
    return [command.value for command, refusal in engine.allowed_commands(state).items() if refusal is None]


def rollout_summary(rollout: Rollout) -> dict[str, Any]:
    """Where a rollout stands, in the one shape every push carries it: its events, and the deployment's metrics."""
    return {
        "rollout": rollout.pk,
        "phase": rollout.phase,
        "from_version": rollout.from_number,
        "to_version": rollout.to_number,
        "candidate_weight": rollout.candidate_weight,
        "stable_weight": 100 - rollout.candidate_weight,
        "shadow_percent": rollout.shadow_percent,
        "allowed_commands": rollout_allowed_commands(rollout),
    }


def record(rollout: Rollout, events: tuple[engine.Event, ...], *, actor: AbstractBaseUser | None = None) -> None:
    """Store the events and push them, after commit, to whoever watches the rollout or its deployment."""
    username = actor.get_username() if actor is not None and actor.is_authenticated else ""
    stored = RolloutEvent.objects.bulk_create(
        RolloutEvent(
            rollout=rollout,
            deployment_id=rollout.deployment_id,
            kind=event.kind,
            message=event.message,
            data=event.data,
            actor_username=username,
        )
        for event in events
    )
    summary = rollout_summary(rollout)
    for event in stored:
        data = {**summary, "event": event_message(event)}
        broadcast(group_name("rollout", rollout.pk), "rollout_event", data)
        broadcast(group_name("deployment", rollout.deployment_id), "rollout_event", data)


def deployment_event_record(
    *, deployment: Deployment, kind: str, message: str, data: dict[str, Any], actor: AbstractBaseUser | None
) -> RolloutEvent:
    """Store an event of the deployment that no rollout made, and push it to the deployment's watchers (the same
    `rollout_event` message, with `rollout` null and the stable version it left)."""
    username = actor.get_username() if actor is not None and actor.is_authenticated else ""
    event = RolloutEvent.objects.create(
        deployment=deployment, kind=kind, message=message, data=data, actor_username=username
    )
    stable = deployment.stable_version.version if deployment.stable_version is not None else None
    push = {"rollout": None, "stable_version": stable, "event": event_message(event)}
    broadcast(group_name("deployment", deployment.pk), "rollout_event", push)
    return event


def event_message(event: RolloutEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "message": event.message,
        "data": event.data,
        "at": event.at.isoformat(),
        "actor": event.actor_username,
    }


def latest_observation(rollout: Rollout) -> engine.Observation:
    from .observers import observe_rollout

    return observe_rollout(rollout)


def after_commit(rollout: Rollout, *, reconcile: bool = True, tick: bool = True) -> None:
    """Reconcile once the change is visible, and continue the rollout's tick chain (one chain per rollout: it is
    started with the rollout and each tick schedules the next; commands never start another)."""
    rollout_id, active = rollout.pk, rollout.active
    if reconcile:
        transaction.on_commit(schedule_reconcile)
    if tick and active and settings.RAYLANE_ROLLOUT_AUTO_TICK:
        countdown = min(TICK_MAX_S, engine_policy(rollout.policy_snapshot).analysis.interval_s)
        transaction.on_commit(lambda: schedule_tick(rollout_id, countdown=countdown))


def schedule_tick(rollout_id: int, *, countdown: float) -> None:
    from .tasks import rollout_tick as tick_task

    tick_task.apply_async((rollout_id,), countdown=countdown)


def schedule_reconcile() -> None:
    from .tasks import reconcile

    reconcile.delay()
