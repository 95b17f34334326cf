"""Data-plane keys: optional credentials for a deployment's inference routes, checked in the model server replicas.

A key is shown once, when it is created; only its sha256 is stored, and only the hashes of keys not revoked reach
the replicas (user_config `access`, see rollouts.desired), so a leaked config or database holds no usable key.
Creating or revoking a key changes the desired state: reconcile applies it in place, without restarting replicas.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from controlplane.accounts.choices import AuditAction
from controlplane.accounts.services import audit_record
from controlplane.core.errors import ApplicationError
from serving.routing import KEY_PREFIX, hash_key

from ..models import Deployment, DeploymentKey
from .state import schedule_reconcile

PREFIX_SHOWN = 10


def deployment_key_create(*, deployment: Deployment, name: str, user: User) -> tuple[DeploymentKey, str]:
    """A new key for `deployment`: returns the record and the key itself, which is never available again."""
    name = name.strip()
    if not name:
        raise ApplicationError("name the key (e.g. the client that will use it)", field="name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = DeploymentKey.objects.create(
            deployment=deployment, name=name, key_hash=hash_key(raw), prefix=raw[:PREFIX_SHOWN], created_by=user
        )
        audit_record(
            actor=user,
            action=AuditAction.CREATE,
            target=key,
            team=deployment.team,
            changes={"deployment": deployment.pk, "name": name, "prefix": key.prefix},
        )
        transaction.on_commit(schedule_reconcile)
    return key, raw


def deployment_key_revoke(*, key: DeploymentKey, user: User) -> DeploymentKey:
    """Revoke a key (idempotent); the replicas stop accepting it once reconcile has applied the change."""
    if key.revoked_at is not None:
        return key
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            target=key,
            team=key.deployment.team,
            changes={"revoked_at": key.revoked_at.isoformat()},
        )
        transaction.on_commit(schedule_reconcile)
    return key
