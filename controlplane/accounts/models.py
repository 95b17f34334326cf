"""Teams, memberships with roles, API tokens and the append-only audit log."""

import hashlib
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from .choices import ROLE_RANK, AuditAction, Role

slug_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Team(models.Model):
    """Owns models, deployments and policies. Nobody reads or writes across teams unless they are a site admin."""

    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class TeamQuota(models.Model):
    """What a team's deployments may reserve on the cluster at most, summed over all of them (rollouts.quotas).
    Null is unlimited. Only site admins set quotas (Django admin, or PUT /api/v1/teams/<slug>/quota/)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="quota")
    max_replicas = models.PositiveIntegerField(null=True, blank=True, help_text="Replicas; empty is unlimited")
    max_cpus = models.FloatField(null=True, blank=True, help_text="CPUs; empty is unlimited")
    max_gpus = models.FloatField(null=True, blank=True, help_text="GPUs; empty is unlimited")
    max_custom = models.JSONField(
        default=dict, blank=True, help_text='Ray custom resources, name → amount, e.g. {"tpu": 4}; unnamed is unlimited'
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quota of {self.team}"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]
        ordering = ["team__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.team}"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


TOKEN_PREFIX = "rl_"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API and CLI. Only its sha256 is stored; the key is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditEntry(models.Model):
    """Who did what, when, from where, and the change. Append-only in the database: triggers refuse UPDATE, DELETE
    and TRUNCATE, and the app's database role may only SELECT and INSERT here (accounts/dbroles.py).

    Actor and team are kept as plain ids plus names (no foreign keys), so deleting a user or a team never has to
    rewrite history.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    target_type = models.CharField(max_length=50, db_index=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    team_slug = models.CharField(max_length=63, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(
        null=True,
        blank=True,
        help_text="The client's address (NUM_PROXIES); empty for the system: a Celery task or management command.",
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or 'system'} {self.action} {self.target_type}"
