from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser  # settings.AUTH_USER_MODEL, named for annotations
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from controlplane.api.fields import SlugField

from ..choices import Role
from ..models import ApiToken, AuditEntry, Membership, Team, TeamQuota, slug_validator
from ..selectors import users_known_to

User = get_user_model()


class TeamSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(
        max_length=63,
        validators=[slug_validator, UniqueValidator(queryset=Team.objects.all(), message="A team has this slug.")],
    )
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["slug", "name", "my_role", "created_at"]
        read_only_fields = ["created_at"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_my_role(self, team: Team) -> str | None:
        request = self.context.get("request")
        if request is None:
            return None
        membership = next((m for m in team.memberships.all() if m.user_id == request.user.pk), None)
        if membership is not None:
            return membership.role
        return Role.ADMIN.value if request.user.is_superuser else None


class MemberUserField(SlugField):
    """A user by username, among those the caller may name (accounts.selectors.users_known_to): a username that
    does not exist and one outside the caller's teams get the same answer."""

    default_error_messages = {
        "does_not_exist": "No user '{value}' that you can add: team admins add people who are already in one of "
        "their teams; a site admin adds anyone else."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        request = self.context.get("request")
        return users_known_to(request.user) if request else User.objects.none()


class TeamQuotaSerializer(serializers.ModelSerializer):
    """A team's limits (null: unlimited). Deployments are checked against them when created or rescaled."""

    max_custom = serializers.DictField(
        child=serializers.FloatField(min_value=0, max_value=10**9),
        required=False,
        help_text='Ray custom resources, name → amount, e.g. {"tpu": 4}; resources not named are unlimited',
    )

    class Meta:
        model = TeamQuota
        fields = ["max_replicas", "max_cpus", "max_gpus", "max_custom", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            "max_replicas": {"min_value": 0, "max_value": 10**6},
            "max_cpus": {"min_value": 0, "max_value": 10**7},
            "max_gpus": {"min_value": 0, "max_value": 10**6},
        }

    def validate_max_custom(self, value: dict) -> dict:
        for name in value:
            if not name or len(name) > 100 or not name.isprintable() or name.startswith("node:"):
                raise serializers.ValidationError(f"{name!r} is not a custom resource name.")
        return value


class MembershipSerializer(serializers.ModelSerializer):
    user: "serializers.SlugRelatedField[Any]" = MemberUserField()
    team: "serializers.SlugRelatedField[Team]" = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "team", "user", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipUpdateSerializer(MembershipSerializer):
    user: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(slug_field="username", read_only=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=settings.RAYLANE_TOKEN_MAX_DAYS,
        help_text="Defaults to RAYLANE_TOKEN_DEFAULT_DAYS",
    )
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "key_prefix",
            "expires_in_days",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = ["id", "key_prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once: store it now")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"}, trim_whitespace=False)


class CsrfTokenSerializer(serializers.Serializer):
    csrf_token = serializers.CharField(read_only=True, help_text="Also in the csrftoken cookie; send as X-CSRFToken")


class TeamRoleSerializer(serializers.Serializer):
    """One of the user's teams and their role in it."""

    team = serializers.CharField(help_text="The team's slug")
    role = serializers.ChoiceField(choices=Role.choices)


class UserSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="May be empty")
    teams = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_superuser", "teams"]
        read_only_fields = fields

    @extend_schema_field(TeamRoleSerializer(many=True))
    def get_teams(self, user: AuthUser) -> list[dict[str, str]]:
        return [{"team": m.team.slug, "role": m.role} for m in user.memberships.select_related("team")]


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor_id",
            "actor_username",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "team_id",
            "team_slug",
            "changes",
            "remote_addr",
        ]
        read_only_fields = fields
