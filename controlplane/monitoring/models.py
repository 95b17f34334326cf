"""Metric samples: what each deployed version did, per second (raw) and per minute (roll-ups).

Counts are increases during the interval starting at `at`; latency is kept as per-bucket counts (bounds in
serving/histogram.py) so roll-ups and any range can be merged and still give true percentiles.
"""

import dataclasses
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models

from controlplane.rollouts.models import Deployment
from serving.metrics_reader import VersionActivity

RAW_STEP_S = 1
ROLLUP_STEP_S = 60


class MetricSample(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="metric_samples")
    version = models.PositiveIntegerField()
    at = models.DateTimeField(help_text="Start of the interval (UTC)")
    step_s = models.PositiveSmallIntegerField(default=RAW_STEP_S, help_text="1: a raw sample, 60: a roll-up")
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0, help_text="Answered 5xx")
    client_errors = models.PositiveIntegerField(default=0, help_text="Answered 4xx")
    latency_buckets = ArrayField(models.PositiveIntegerField(), default=list)
    latency_sum_ms = models.FloatField(default=0)
    shadow_requests = models.PositiveIntegerField(default=0)
    shadow_agreements = models.PositiveIntegerField(default=0)
    split_requests = models.PositiveIntegerField(
        default=0, help_text="Answered for the weighted split, 4xx excluded: what a rollout's analysis reads"
    )
    split_errors = models.PositiveIntegerField(default=0, help_text="Of split_requests, answered 5xx")
    split_latency_buckets = ArrayField(
        models.PositiveIntegerField(), default=list, help_text="Latency of split_requests (per bucket)"
    )
    pinned_requests = models.PositiveIntegerField(default=0, help_text="Answered for clients that pinned the version")
    ongoing = models.FloatField(default=0, help_text="Requests in flight (mean over the interval for roll-ups)")
    replicas_total = models.PositiveSmallIntegerField(
        default=0, help_text="Model server replicas (the ones that must all hold a version before it takes traffic)"
    )
    replicas_ready = models.PositiveSmallIntegerField(default=0)
    replicas_loading = models.PositiveSmallIntegerField(default=0)
    replicas_failed = models.PositiveSmallIntegerField(default=0)
    replica_states = models.JSONField(default=dict, blank=True, help_text="Serve's replicas of the model by state")

    class Meta:
        ordering = ["at"]
        indexes = [
            models.Index(fields=["deployment", "step_s", "at"], name="metricsample_series"),
            models.Index(fields=["step_s", "at"], name="metricsample_retention"),
        ]
        constraints = [
            # Roll-ups are recomputed idempotently per minute; raw samples of one second may come in twice (a slow
            # scrape), readers sum them.
            models.UniqueConstraint(
                fields=["deployment", "version", "at"],
                condition=models.Q(step_s=ROLLUP_STEP_S),
                name="metricsample_one_rollup_per_minute",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} v{self.version} @{self.at:%H:%M:%S}/{self.step_s}s"

    @classmethod
    def of(cls, activity: VersionActivity, **fields: Any) -> "MetricSample":
        """A row from a serving.metrics_reader.VersionActivity (a scrape's sample or a merged bin), plus `fields`."""
        copied = {field.name: getattr(activity, field.name) for field in dataclasses.fields(VersionActivity)}
        return cls(**(copied | fields))
