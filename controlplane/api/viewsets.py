"""The shared base for team-owned resources: scoping, role checks and audit in one place, so plain CRUD views
are three declarations (queryset, serializer_class, filterset_class)."""

from typing import Any

from django.db import models, transaction
from rest_framework import serializers, viewsets

from controlplane.accounts.addresses import client_address
from controlplane.accounts.choices import AuditAction
from controlplane.accounts.models import Team
from controlplane.accounts.selectors import scope_to_teams
from controlplane.accounts.services import audit_record

from .permissions import TeamRolePermission, require_role, required_role


def client_ip(request: Any) -> str | None:
    """The client's address per NUM_PROXIES (accounts.addresses), for audit entries and throttles."""
    return client_address(request)


def jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class TeamOwnedViewSet(viewsets.ModelViewSet):
    """CRUD over objects that belong to a team (via `team_path`). Every write is audited in its transaction."""

    permission_classes = [TeamRolePermission]
    team_path = "team"

    def get_queryset(self) -> models.QuerySet:
        return scope_to_teams(super().get_queryset(), self.request.user, team_field=self.team_path)

    def team_of(self, obj: models.Model) -> Team:
        target: Any = obj
        for part in self.team_path.split("__"):
            target = getattr(target, part)
        return target

    def team_for_create(self, serializer: serializers.Serializer) -> Team:
        return serializer.validated_data["team"]

    def perform_create(self, serializer: serializers.Serializer) -> None:
        team = self.team_for_create(serializer)
        require_role(self.request.user, team, required_role(self, "POST"))
        with transaction.atomic():
            instance = serializer.save(**self.extra_create_fields(serializer))
            audit_record(
                actor=self.request.user,
                action=AuditAction.CREATE,
                target=instance,
                team=team,
                changes=jsonable(serializer.validated_data),
                remote_addr=client_ip(self.request),
            )

    def extra_create_fields(self, serializer: serializers.Serializer) -> dict[str, Any]:
        return {}

    def perform_update(self, serializer: serializers.Serializer) -> None:
        instance = serializer.instance
        if "team" in serializer.validated_data and serializer.validated_data["team"] != self.team_of(instance):
            require_role(self.request.user, serializer.validated_data["team"], required_role(self, "PUT"))
        before = {field: jsonable(getattr(instance, field, None)) for field in serializer.validated_data}
        with transaction.atomic():
            instance = serializer.save()
            after = {field: jsonable(getattr(instance, field, None)) for field in serializer.validated_data}
            changed = {f: {"from": before[f], "to": after[f]} for f in after if before[f] != after[f]}
            audit_record(
                actor=self.request.user,
                action=AuditAction.UPDATE,
                target=instance,
                team=self.team_of(instance),
                changes=changed,
                remote_addr=client_ip(self.request),
            )

    def perform_destroy(self, instance: models.Model) -> None:
        with transaction.atomic():
            audit_record(
                actor=self.request.user,
                action=AuditAction.DELETE,
                target=instance,
                team=self.team_of(instance),
                remote_addr=client_ip(self.request),
            )
            self.destroy_instance(instance)

    def destroy_instance(self, instance: models.Model) -> None:
        instance.delete()
