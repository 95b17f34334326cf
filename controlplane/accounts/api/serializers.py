from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from controlplane.api.fields import SlugField

from ..choices import Role
from ..models import ApiToken, AuditEntry, Membership, Team, slug_validator

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

    def get_my_role(self, team: Team) -> str | None:
        request = self.context.get("request")
        if request is None:
            return None
        membership = next((m for m in team.memberships.all() if m.user_id == request.user.pk), None)
        if membership is not None:
            return membership.role
        return Role.ADMIN.value if request.user.is_superuser else None


class MembershipSerializer(serializers.ModelSerializer):
    user = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "team", "user", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipUpdateSerializer(MembershipSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)


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


class UserSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="May be empty")
    teams = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_superuser", "teams"]
        read_only_fields = fields

    def get_teams(self, user) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
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
