"""The shared base for team-owned resources: scoping and role checks in one place. Writes are not generic: each
viewset hands its validated body to its app's service (which checks the rules and writes the audit entry)."""

from typing import Any, TypeVar

from django.db import models
from rest_framework import serializers, viewsets

from controlplane.accounts.addresses import client_address
from controlplane.accounts.models import Team
from controlplane.accounts.selectors import scope_to_teams

from .permissions import TeamRolePermission, require_role, required_role

_Instance = TypeVar("_Instance")


def updated_instance(serializer: serializers.BaseSerializer[_Instance]) -> _Instance:
    """The object an update's serializer is bound to: DRF's UpdateModelMixin always binds one."""
    if serializer.instance is None:
        raise AssertionError("an update serializer is bound to the object it changes")
    return serializer.instance


def client_ip(request: Any) -> str | None:
    """The client's address per NUM_PROXIES (accounts.addresses), for login records and throttles."""
    return client_address(request)


class TeamOwnedViewSet(viewsets.ModelViewSet):
    """CRUD over objects that belong to a team (via `team_path`): lists and lookups see only the caller's teams,
    and TeamRolePermission checks the role an action needs in the object's team. Subclasses implement
    perform_create / perform_update / perform_destroy as one call to their service each."""

    permission_classes = [TeamRolePermission]
    team_path = "team"

    def get_queryset(self) -> models.QuerySet:
        return scope_to_teams(super().get_queryset(), self.request.user, team_field=self.team_path)

    def team_of(self, obj: models.Model) -> Team:
        target: Any = obj
        for part in self.team_path.split("__"):
            target = getattr(target, part)
        return target

    def require_create_role(self, team: Team) -> None:
        """Creating needs the role of a POST in the team the new object will belong to (it has no object yet)."""
        role = required_role(self, "POST")
        if role is None:  # only safe methods need no role, and POST is not one
            raise AssertionError("POST always needs a role")
        require_role(self.request.user, team, role)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        raise NotImplementedError(f"{type(self).__name__} creates through its service")

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        raise NotImplementedError(f"{type(self).__name__} updates through its service")

    def perform_destroy(self, instance: Any) -> None:  # Any: each subclass takes its own model
        raise NotImplementedError(f"{type(self).__name__} deletes through its service")
