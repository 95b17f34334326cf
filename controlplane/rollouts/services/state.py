"""Storing what the engine decided, for every rollout service: engine types to and from their JSON columns, the
state and events saved and pushed, the follow-ups scheduled after commit (reconcile, the next tick)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from controlplane.core.broadcast import broadcast, group_name
from controlplane.registry.models import ModelVersion

from .. import engine
from ..choices import ACTIVE_PHASES
from ..models import Deployment, Rollout, RolloutEvent, RolloutPolicy

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


def state_fields(state: engine.State) -> dict[str, Any]:
    return {
        "phase": state.phase.value,
        "candidate_weight": state.traffic.candidate_weight,
        "shadow_percent": state.traffic.shadow_percent,
        "step_index": state.step_index,
        "reason": state.reason,
        "engine_state": state_to_json(state),
    }


def locked(rollout_id: int) -> Rollout | None:
    """The rollout, with its deployment's row locked for the rest of the transaction."""
    rollout = Rollout.objects.select_related("deployment").filter(pk=rollout_id).first()
    if rollout is None:
        return None
    Deployment.objects.select_for_update().filter(pk=rollout.deployment_id).get()
    return Rollout.objects.select_related("deployment__model", "deployment__team", "to_version").get(pk=rollout_id)


def save(rollout: Rollout, decision: engine.Decision, *, actor: User | None = None) -> None:
    if decision.restart_window and hasattr(rollout, "next_counters"):
        # The engine judged what this observation saw (or traffic moved): the next window starts after it. Not after
        # an inconclusive analysis, whose few requests the next one judges again with more (observers.py).
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


def rollouts_abort(*, deployment: Deployment, user: User | None) -> None:
    """Abort the deployment's active rollout through the engine, recording its events. The caller holds the
    deployment's lock and changes the stable version next."""
    for rollout in deployment.rollouts.filter(phase__in=ACTIVE_PHASES):
        state = state_from_json(rollout.engine_state)
        decision = engine.advance(
            engine_policy(rollout.policy_snapshot), state, engine.Observation(), time.time(), engine.Command.ABORT
        )
        save(rollout, decision, actor=user)


def rollout_allowed_commands(rollout: Rollout) -> list[str]:
    """The commands the engine allows in the rollout's state now (engine.allowed_commands), for the API and pushes:
    what a console or CLI offers. Promote is listed on the state alone; it is refused at once if the candidate
    turns out not to be loaded everywhere."""
    if not rollout.active:
        return []
    state = state_from_json(rollout.engine_state)
    return [command.value for command, refusal in engine.allowed_commands(state).items() if refusal is None]


def rollout_traffic(rollout: Rollout) -> str:
    """'canary 10%' or 'shadow, 100% mirrored': where a rollout's traffic stands, in a few words."""
    strategy = (rollout.policy_snapshot or {}).get("strategy", "rollout")
    if rollout.shadow_percent and not rollout.candidate_weight:
        return f"{strategy}, {rollout.shadow_percent}% mirrored"
    return f"{strategy} {rollout.candidate_weight}%"


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


def record(rollout: Rollout, events: tuple[engine.Event, ...], *, actor: User | None = None) -> None:
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


def stable_change_record(
    *, deployment: Deployment, before: ModelVersion | None, user: User | None, rollback: bool = False
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


def deployment_event_record(
    *, deployment: Deployment, kind: str, message: str, data: dict[str, Any], actor: User | None
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
    from ..observers import observe_rollout

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
    from ..tasks import rollout_tick as tick_task

    tick_task.apply_async((rollout_id,), countdown=countdown)


def schedule_reconcile() -> None:
    from ..tasks import reconcile

    reconcile.delay()
