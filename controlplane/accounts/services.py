"""Writes for accounts: audit entries, API tokens, memberships. Keyword-only, typed, one transaction each."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.utils import timezone

from controlplane.core.errors import ApplicationError

from .addresses import current_address
from .choices import AuditAction
from .models import ApiToken, AuditEntry, Team, hash_token

User = AbstractBaseUser | AnonymousUser | None


def audit_record(
    *,
    actor: User,
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
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor_id=actor.pk if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:300],
        team_id=team.pk if team else None,
        team_slug=team.slug if team else "",
        changes=changes or {},
        remote_addr=remote_addr or current_address(),
    )


def login_record(
    *, user: AbstractBaseUser | None, username: str, remote_addr: str | None, via: str = "api"
) -> AuditEntry:
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


def token_create(*, user: AbstractBaseUser, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
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


def token_revoke(*, token: ApiToken, actor: AbstractBaseUser) -> ApiToken:
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
