"""Reads for the registry: the models and versions a user may see (scoped by team in accounts.selectors)."""

from django.db.models import QuerySet

from controlplane.accounts.selectors import Viewer, scope_to_teams
from controlplane.core.errors import ApplicationError

from .models import Model, ModelVersion


def models_visible(*, user: Viewer) -> QuerySet[Model]:
    """Models of `user`'s teams, with what their list and detail show (team, owner, version numbers)."""
    return scope_to_teams(Model.objects.select_related("team", "owner").prefetch_related("versions"), user)


def versions_of(*, model: Model) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(model=model).select_related("model", "artifact", "created_by", "trusted_by")


def version_numbered(*, model: Model, number: int, field: str = "version") -> ModelVersion:
    """Version `number` of `model`, or a 400 naming `field`."""
    version = ModelVersion.objects.filter(model=model, version=number).select_related("model").first()
    if version is None:
        raise ApplicationError(f"Model '{model}' has no version {number}.", field=field)
    return version
