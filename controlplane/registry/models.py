"""Models, their versions, and the content-addressed artifacts the versions point at."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from controlplane.accounts.models import Team, slug_validator

from .choices import ModelFormat, ValidationStatus


class Model(models.Model):
    """A named model. The name is also its route (`/v1/models/<name>:predict`), so it is a unique slug."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    description = models.TextField(blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_models"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Artifact(models.Model):
    """Bytes stored once under their sha256, however many versions point at them."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256


class ModelVersion(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="versions")
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=20, choices=ModelFormat.choices)
    framework = models.CharField(max_length=50, blank=True)
    framework_version = models.CharField(max_length=50, blank=True)
    signature = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    trusted = models.BooleanField(default=False)
    trusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trusted_at = models.DateTimeField(null=True, blank=True)
    validation_status = models.CharField(max_length=20, choices=ValidationStatus.choices)
    validation_error = models.TextField(blank=True)
    validation_details = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="modelversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def sha256(self) -> str:
        return self.artifact_id

    @property
    def size(self) -> int:
        return self.artifact.size

    @property
    def deployable(self) -> bool:
        return self.validation_status == ValidationStatus.VALID
