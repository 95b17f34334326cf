"""Deployments (a model served under a route) and reusable rollout policies.

The rollout state machine and its records (Rollout, RolloutEvent) arrive with the rollout engine; these are the
records users create first.
"""

from django.conf import settings
from django.db import models

from controlplane.accounts.models import Team
from controlplane.registry.models import Model, ModelVersion

from .choices import OnFailure, Strategy


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


class ReconcileState(models.Model):
    """One row: what was last applied to the cluster, so reconcile only PUTs a config that changed."""

    applied_hash = models.CharField(max_length=64, blank=True)
    applied_config = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"applied {self.applied_hash[:12] or 'nothing'}"
