"""Rollout policy services: create, change and delete a team's policies, each checked whole by the one validator
(rollouts.policies) before it is saved."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.models import Team
from controlplane.accounts.services import apply_changes, audit_record
from controlplane.core.errors import ApplicationError, Conflict

from ..models import RolloutPolicy
from ..policies import policy_check, simple_steps

SIMPLE_MODE = ("step_weight", "max_weight", "interval_s")


def policy_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as stored: simple mode (step_weight, max_weight, interval_s) expanded into steps."""
    settings = dict(settings)
    simple = {key: settings.pop(key) for key in SIMPLE_MODE if key in settings}
    if simple:
        if "steps" in settings:
            raise ApplicationError("Give either steps or step_weight, not both.", field="step_weight")
        settings["steps"] = simple_steps(**simple)
    return settings


def policy_create(*, team: Team, name: str, user: User, **settings: Any) -> RolloutPolicy:
    """A new policy of `team` (`settings`: the policy's fields, or simple mode instead of steps)."""
    with transaction.atomic():
        if RolloutPolicy.objects.filter(team=team, name=name).exists():
            raise ApplicationError("This team already has a policy with this name.", field="name")
        policy = RolloutPolicy(team=team, name=name, created_by=user)
        changed = apply_changes(policy, policy_settings(settings))
        policy_check(policy.engine_settings())
        policy.save()
        created = {"name": name, **{field: change["to"] for field, change in changed.items()}}
        audit_record(actor=user, action=AuditAction.CREATE, target=policy, team=team, changes=created)
    return policy


def policy_update(*, policy: RolloutPolicy, changes: dict[str, Any], user: User) -> RolloutPolicy:
    """Change a policy; the whole policy as it would be saved must pass the validator. It stays in its team: it
    moves only with the model that alone uses it (registry.services.model_move). Rollouts already running keep
    the snapshot they started with."""
    changes = policy_settings(changes)
    team = changes.pop("team", None)
    if team is not None and team.pk != policy.team_id:
        raise ApplicationError(
            "team cannot be changed; create the policy in the other team, or move the model that uses it",
            field="team",
        )
    with transaction.atomic():
        policy = RolloutPolicy.objects.select_for_update().select_related("team").get(pk=policy.pk)
        name = changes.get("name", policy.name)
        if name != policy.name and RolloutPolicy.objects.filter(team=policy.team, name=name).exists():
            raise ApplicationError("This team already has a policy with this name.", field="name")
        changed = apply_changes(policy, changes)
        policy_check(policy.engine_settings())
        policy.save()
        audit_record(actor=user, action=AuditAction.UPDATE, target=policy, team=policy.team, changes=changed)
    return policy


def policy_delete(*, policy: RolloutPolicy, user: User) -> None:
    with transaction.atomic():
        audit_record(actor=user, action=AuditAction.DELETE, target=policy, team=policy.team)
        try:
            policy.delete()
        except ProtectedError as exc:
            raise Conflict(f"policy '{policy}' is still used") from exc
