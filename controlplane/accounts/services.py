"""Writes for accounts: teams, memberships, quotas, API tokens, and the audit log every app's writes append to.
Keyword-only, typed, one transaction each, the audit entry written inside it."""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from controlplane.core.errors import ApplicationError, Conflict

from .addresses import current_address
from .choices import AuditAction, Role
from .models import ApiToken, AuditEntry, Membership, Team, TeamQuota, hash_token

# Whoever an audit entry names: a user (settings.AUTH_USER_MODEL); anonymous or None is "system" or a failed login.
Actor = User | AnonymousUser | None


def audit_record(
    *,
    actor: Actor,
    action: AuditAction | str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    team: Team | None = None,
    changes: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the write it describes, so both land or neither.

    Without `remote_addr`, the entry gets the address of the web request being served (ClientAddressMiddleware), so
    services need not pass it along; outside any request (Celery, management commands) it stays NULL: "system".
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)
    signed_in = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor_id=signed_in.pk if signed_in is not None else None,
        actor_username=signed_in.get_username() if signed_in is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:300],
        team_id=team.pk if team else None,
        team_slug=team.slug if team else "",
        changes=changes or {},
        remote_addr=remote_addr or current_address(),
    )


def audit_value(value: Any) -> Any:
    """A value as the audit log keeps it: rows by their primary key, collections item by item, the rest as text."""
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (list, tuple)):
        return [audit_value(item) for item in value]
    if isinstance(value, dict):
        return {key: audit_value(item) for key, item in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def apply_changes(instance: models.Model, changes: dict[str, Any]) -> dict[str, Any]:
    """Set `changes` on `instance` (not saved) and return what actually changed, as the audit log keeps it:
    {field: {"from": old, "to": new}}."""
    changed = {}
    for name, value in changes.items():
        before, after = audit_value(getattr(instance, name, None)), audit_value(value)
        setattr(instance, name, value)
        if before != after:
            changed[name] = {"from": before, "to": after}
    return changed


def login_record(*, user: User | None, username: str, remote_addr: str | None, via: str = "api") -> AuditEntry:
    """Audit one login attempt, from the API or the admin site (`via`): a user on success, None on failure."""
    if user is not None:
        return audit_record(
            actor=user, action=AuditAction.LOGIN, target=user, changes={"via": via}, remote_addr=remote_addr
        )
    return audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        target_type="auth.user",
        target_repr=username[:150],
        changes={"via": via},
        remote_addr=remote_addr,
    )


def token_create(*, user: User, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is not stored and cannot be shown again."""
    days = settings.RAYLANE_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.RAYLANE_TOKEN_MAX_DAYS:
        raise ApplicationError(
            f"expires_in_days must be between 1 and {settings.RAYLANE_TOKEN_MAX_DAYS} (RAYLANE_TOKEN_MAX_DAYS)",
            field="expires_in_days",
        )
    key = ApiToken.generate_key()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(key),
            key_prefix=key[:10],
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(actor=user, action=AuditAction.TOKEN_CREATE, target=token, changes={"name": name, "days": days})
    return token, key


def token_used(*, token: ApiToken) -> None:
    """Note that a token authenticated a request (API or websocket), at most once a minute: not audited, it is
    bookkeeping that lets people see which tokens are still in use."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action=AuditAction.TOKEN_REVOKE, target=token)
    return token


def tokens_prune_expired(*, older_than_days: int = 30) -> int:
    """Delete tokens that expired or were revoked more than `older_than_days` ago; they can never authenticate."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    expired = ApiToken.objects.filter(models.Q(expires_at__lt=cutoff) | models.Q(revoked_at__lt=cutoff))
    count, _ = expired.delete()
    return count


def logout_record(*, user: User) -> AuditEntry:
    return audit_record(actor=user, action=AuditAction.LOGOUT, target=user)


# --- teams, memberships, quotas ---------------------------------------------------------------------------------


def team_create(*, user: User, slug: str, name: str) -> Team:
    """A new team, with its creator as its first admin (a team always has one)."""
    with transaction.atomic():
        team = Team.objects.create(slug=slug, name=name)
        Membership.objects.create(team=team, user=user, role=Role.ADMIN)
        changes = {"slug": slug, "name": name}
        audit_record(actor=user, action=AuditAction.CREATE, target=team, team=team, changes=changes)
    return team


def team_update(*, team: Team, changes: dict[str, Any], user: User) -> Team:
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        changed = apply_changes(team, changes)
        team.save()
        audit_record(actor=user, action=AuditAction.UPDATE, target=team, team=team, changes=changed)
    return team


def team_delete(*, team: Team, user: User) -> None:
    """Refused (409) while the team still owns anything: models, deployments and policies are never orphaned."""
    with transaction.atomic():
        audit_record(actor=user, action=AuditAction.DELETE, target=team, team=team)
        try:
            team.delete()
        except ProtectedError as exc:
            raise Conflict(f"team '{team}' still owns models, deployments or policies") from exc


def team_quota_set(*, team: Team, limits: dict[str, Any], user: User) -> TeamQuota:
    """Set a team's quota (`limits`: max_replicas, max_cpus, max_gpus, max_custom; None is unlimited). Deployments
    already over it keep running; the next change that would grow them is refused (rollouts.quotas)."""
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        quota = TeamQuota.objects.filter(team=team).first() or TeamQuota(team=team)
        changed = apply_changes(quota, limits)
        quota.save()
        audit_record(actor=user, action=AuditAction.UPDATE, target=quota, team=team, changes=changed)
    return quota


def membership_add(*, team: Team, member: User, role: Role | str, user: User) -> Membership:
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        if Membership.objects.filter(team=team, user=member).exists():
            raise Conflict(f"{member} is already a member of '{team}'", field="user")
        membership = Membership.objects.create(team=team, user=member, role=role)
        changes = {"user": member.get_username(), "role": str(role)}
        audit_record(actor=user, action=AuditAction.CREATE, target=membership, team=team, changes=changes)
    return membership


def membership_set_role(*, membership: Membership, role: Role | str, user: User) -> Membership:
    """Change a member's role; refused (409) when it would leave the team without an admin."""
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=membership.team_id)
        membership = Membership.objects.select_related("user").get(pk=membership.pk)
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        keep_an_admin(team)
        changes = {"role": {"from": before, "to": str(role)}}
        audit_record(actor=user, action=AuditAction.UPDATE, target=membership, team=team, changes=changes)
    return membership


def membership_remove(*, membership: Membership, user: User) -> None:
    """Remove a member; refused (409) when it would leave the team without an admin."""
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=membership.team_id)
        changes = {"user": membership.user.get_username()}
        audit_record(actor=user, action=AuditAction.DELETE, target=membership, team=team, changes=changes)
        membership.delete()
        keep_an_admin(team)


def keep_an_admin(team: Team) -> None:
    if not team.memberships.filter(role=Role.ADMIN).exists():
        raise Conflict(f"team '{team}' must keep at least one admin")


def demo_admin_ensure(*, username: str, saved: dict[str, str]) -> dict[str, str]:
    """The demo site admin `username`, the 'demo' team they administer and a live API token, created where missing.
    `saved` holds the credentials handed out last time ({username, password, token}); the answer is what is valid
    now (the same ones when they still work), for `manage.py demo_admin` to keep and print."""
    saved = dict(saved)
    with transaction.atomic():
        user = get_user_model().objects.filter(username=username).first()
        if user is None or saved.get("username") != username or not user.check_password(saved.get("password", "")):
            saved = {"username": username, "password": secrets.token_urlsafe(12)}
            user = user or get_user_model()(username=username, email=f"{username}@example.com")
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(saved["password"])
            user.save()
            audit_record(actor=user, action=AuditAction.UPDATE, target=user, changes={"demo_admin": "password set"})
        team = Team.objects.filter(slug="demo").first()
        if team is None:
            team = team_create(user=user, slug="demo", name="Demo team")  # makes them its admin
        membership = Membership.objects.filter(team=team, user=user).first()
        if membership is None:
            membership_add(team=team, member=user, role=Role.ADMIN, user=user)
        elif membership.role != Role.ADMIN:
            membership_set_role(membership=membership, role=Role.ADMIN, user=user)
        live = ApiToken.objects.filter(
            key_hash=hash_token(saved.get("token", "")), revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        if not live.exists():
            _, saved["token"] = token_create(user=user, name="demo", expires_in_days=settings.RAYLANE_TOKEN_MAX_DAYS)
    return saved
