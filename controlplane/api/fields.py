"""Serializer fields shared by every app."""

import json
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from controlplane.accounts.models import Team
from controlplane.accounts.selectors import team_ids_for


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class SafeJSONField(serializers.JSONField):
    """A JSON object PostgreSQL can store (no NUL characters) and of bounded size."""

    def __init__(self, *, max_bytes: int = 64 * 1024, require_object: bool = True, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        self.require_object = require_object
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if self.require_object and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if contains_nul(value):
            raise serializers.ValidationError("Must not contain NUL (\\u0000) characters.")
        if len(json.dumps(value)) > self.max_bytes:
            raise serializers.ValidationError(f"Must be at most {self.max_bytes} bytes of JSON.")
        return value


class SlugField(serializers.SlugRelatedField):
    """SlugRelatedField that refuses what PostgreSQL cannot compare (NUL characters) with a 400, not a 500."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class TeamScopedMixin(serializers.RelatedField):
    """Limits a related field's choices to the objects of the requesting user's teams (every team for site admins;
    none without a request in the context). A foreign object then fails exactly as a missing one does ("does not
    exist"), so the answer reveals nothing about other teams. `team_path` leads from the object to its team."""

    team_path = "team"

    def __init__(self, *, team_path: str | None = None, **kwargs: Any) -> None:
        if team_path is not None:
            self.team_path = team_path
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any] | None:
        queryset = super().get_queryset()
        request = self.context.get("request")
        ids = team_ids_for(request.user) if request else []
        if ids is None or queryset is None:
            return queryset
        return queryset.filter(**({"pk__in": ids} if self.team_path == "" else {f"{self.team_path}__in": ids}))


class ScopedSlugField(TeamScopedMixin, SlugField):
    """An object of the caller's teams, by slug (a model by name)."""


class ScopedPrimaryKeyField(TeamScopedMixin, serializers.PrimaryKeyRelatedField):
    """An object of the caller's teams, by id; ids that are not whole numbers are refused as missing ones are."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not str(data).isdigit() or int(data) > 2**63 - 1:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class TeamField(ScopedSlugField):
    """A team by slug, limited to the teams the requesting user belongs to."""

    team_path = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", queryset=Team.objects.all(), **kwargs)
