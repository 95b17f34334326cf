"""Deployments (a model served under a route), their data-plane keys, reusable rollout policies, rollouts and their
events, and the record of what reconcile last applied.

A rollout's transitions are the engine's (rollouts/engine.py); these rows only store what it decided.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from controlplane.accounts.models import Team
from controlplane.registry.models import Model, ModelVersion

from .choices import ACTIVE_PHASES, OnFailure, Pins, RolloutPhase, Strategy
from .policies import policy_check


class RolloutPolicy(models.Model):
    """How a new version replaces the stable one: strategy, steps and the analysis that gates each step."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="rollout_policies")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.CANARY)
    steps = models.JSONField(default=list, blank=True, help_text="[{weight: 0-100, pause_s: int | null}]")
    analysis = models.JSONField(default=dict, blank=True)
    on_failure = models.CharField(max_length=10, choices=OnFailure.choices, default=OnFailure.ROLLBACK)
    progress_deadline_s = models.PositiveIntegerField(default=600)
    shadow_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Shadow and blue/green preview: share of requests mirrored to the candidate"
    )
    auto_promote_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blue/green and shadow: promote after analysis passed this long; null waits"
    )
    keep_warm_s = models.PositiveIntegerField(
        default=300, help_text="Blue/green: how long the old version stays loaded after the switch"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__slug", "name"]
        verbose_name_plural = "rollout policies"
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="rolloutpolicy_unique_name_per_team")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The one policy validator (rollouts.policies), so the admin refuses what the API refuses."""
        super().clean()
        policy_check(self.engine_settings())

    def engine_settings(self) -> dict[str, Any]:
        """The fields the engine runs on: what a rollout snapshots and the validator checks."""
        return {name: getattr(self, name) for name in POLICY_SETTINGS}


POLICY_SETTINGS = (
    "strategy",
    "steps",
    "analysis",
    "on_failure",
    "progress_deadline_s",
    "shadow_percent",
    "auto_promote_s",
    "keep_warm_s",
)


class Deployment(models.Model):
    """A model served on the cluster: which version is stable, and how it is served (autoscaling, batching,
    resources). The team is always the model's team."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="deployments")
    model = models.OneToOneField(Model, on_delete=models.PROTECT, related_name="deployment")
    stable_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="stable_for"
    )
    default_policy = models.ForeignKey(
        RolloutPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="deployments"
    )
    autoscaling = models.JSONField(default=dict, blank=True)
    batching = models.JSONField(default=dict, blank=True)
    resources = models.JSONField(default=dict, blank=True)
    pooled = models.BooleanField(
        default=False, help_text="Serve from the shared pool (loaded on first use): for many small, rarely used models"
    )
    pins = models.CharField(
        max_length=10,
        choices=Pins.choices,
        default=Pins.OPEN,
        help_text="Who may pin a version with X-Raylane-Version: anyone, or only callers with a data-plane key",
    )
    require_key = models.BooleanField(
        default=False, help_text="Every inference request needs a data-plane key (X-Raylane-Key or Bearer rk_…)"
    )
    limits = models.JSONField(
        default=dict,
        blank=True,
        help_text="What one inference request may hold: {max_body_bytes, max_elements, max_depth}; null or absent "
        "takes the site default (rollouts.limits)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__name"]

    def __str__(self) -> str:
        return self.model.name

    @property
    def route(self) -> str:
        return f"/v1/models/{self.model.name}"


class DeploymentKey(models.Model):
    """A data-plane key for a deployment's inference routes. Only its sha256 is kept (shown once on creation);
    the model server replicas get the hashes of the keys not revoked, in user_config."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell keys apart")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.deployment} key {self.name} ({self.prefix}…)"


class ReconcileState(models.Model):
    """One row: what was last applied to the cluster, so reconcile only PUTs a config that changed."""

    applied_hash = models.CharField(max_length=64, blank=True)
    applied_config = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # For the control plane's /metrics: how long the last run took, and how many runs failed, ever.
    last_duration_s = models.FloatField(default=0)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"applied {self.applied_hash[:12] or 'nothing'}"


class Rollout(models.Model):
    """One attempt to replace a deployment's stable version. The engine's state is stored whole in `engine_state`;
    `phase`, `candidate_weight`, `shadow_percent`, `step_index` and `reason` are copies for queries and the UI."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="rollouts")
    # SET_NULL so history never pins a version forever; the numbers are kept, and active rollouts still count as use
    from_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, related_name="rollouts_from")
    to_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, related_name="rollouts_to")
    from_number = models.PositiveIntegerField()
    to_number = models.PositiveIntegerField()
    policy = models.ForeignKey(RolloutPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    policy_snapshot = models.JSONField(help_text="The policy as it was when the rollout started")
    phase = models.CharField(max_length=20, choices=RolloutPhase.choices, default=RolloutPhase.PENDING)
    candidate_weight = models.PositiveSmallIntegerField(default=0)
    shadow_percent = models.PositiveSmallIntegerField(default=0)
    step_index = models.SmallIntegerField(default=-1)
    reason = models.TextField(blank=True)
    engine_state = models.JSONField(default=dict)
    counters = models.JSONField(default=dict, help_text="Per-replica metric values at the last analysis")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_tick_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last advanced it")
    # Not a column: the sample id an observation read up to (observers.observe_rollout), kept by the save after an
    # analysis (services.state.save); unset until observed.
    next_counters: dict[str, int]

    # registry.services.version_usage: finished rollouts are history and do not keep a version in use
    in_use_filter = {"phase__in": ACTIVE_PHASES}

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=models.Q(phase__in=ACTIVE_PHASES),
                name="rollout_one_active_per_deployment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deployment} v{self.from_number} → v{self.to_number}"

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_PHASES


class RolloutEvent(models.Model):
    """Every transition and every analysis, with the numbers it saw, and every other change of what a deployment
    serves (kinds `deployed`, `rolled_back`, `undeployed`). Append-only, like the audit log."""

    # A deployment-level event (a deploy, a rollback) belongs to no rollout.
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, null=True, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}: {self.message}"
