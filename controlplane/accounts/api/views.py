from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.authentication import CSRFCheck
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from controlplane.api.permissions import acting_user, require_role
from controlplane.api.viewsets import client_ip, updated_instance

from .. import selectors, services
from ..choices import Role
from ..filtersets import AuditEntryFilterSet
from ..models import ApiToken, Membership, Team, TeamQuota
from ..throttling import LOGIN_THROTTLES
from .serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenSerializer,
    AuditEntrySerializer,
    CsrfTokenSerializer,
    LoginSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    TeamQuotaSerializer,
    TeamSerializer,
    UserSerializer,
)


class IsSiteAdminForWrites(permissions.IsAuthenticated):
    def has_permission(self, request: Request, view: Any) -> bool:  # view: a viewset, with its `action`
        if not super().has_permission(request, view):
            return False
        if request.method in permissions.SAFE_METHODS or view.action in ("update", "partial_update"):
            return True
        return request.user.is_superuser


class TeamViewSet(viewsets.ModelViewSet):
    """Teams you belong to. Site admins create and delete teams; team admins rename theirs."""

    serializer_class = TeamSerializer
    permission_classes = [IsSiteAdminForWrites]
    lookup_field = "slug"
    lookup_value_regex = "[a-z0-9-]+"
    search_fields = ["slug", "name"]
    ordering_fields = ["slug", "created_at"]

    def get_queryset(self) -> QuerySet:
        return selectors.teams_visible(user=self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Team]) -> None:
        serializer.instance = services.team_create(user=acting_user(self.request), **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Team]) -> None:
        team = updated_instance(serializer)
        require_role(self.request.user, team, Role.ADMIN)
        serializer.instance = services.team_update(
            team=team, changes=serializer.validated_data, user=acting_user(self.request)
        )

    @extend_schema(
        summary="A team's quota: members read it, site admins set it (null is unlimited)",
        request=TeamQuotaSerializer,
        responses={200: TeamQuotaSerializer},
    )
    @action(detail=True, methods=["get", "put"])
    def quota(self, request: Request, slug: str | None = None) -> Response:
        team = self.get_object()
        quota = TeamQuota.objects.filter(team=team).first() or TeamQuota(team=team)
        if request.method == "PUT":  # IsSiteAdminForWrites: only site admins get here
            body = TeamQuotaSerializer(quota, data=request.data)
            body.is_valid(raise_exception=True)
            quota = services.team_quota_set(team=team, limits=body.validated_data, user=acting_user(request))
        return Response(TeamQuotaSerializer(quota).data)

    def perform_destroy(self, instance: Team) -> None:
        services.team_delete(team=instance, user=acting_user(self.request))


class MembershipViewSet(viewsets.ModelViewSet):
    """Members of one team and their roles. Team admins manage them; a team always keeps one admin."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["created_at", "user__username"]

    def get_team(self) -> Team:
        if not hasattr(self, "_team"):
            teams = selectors.teams_visible(user=self.request.user)
            self._team = get_object_or_404(teams, slug=self.kwargs["team_slug"])
        return self._team

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.memberships_of(team=self.get_team())

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Membership]]:
        return MembershipUpdateSerializer if self.action in ("update", "partial_update") else MembershipSerializer

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if request.method not in permissions.SAFE_METHODS:
            require_role(request.user, self.get_team(), Role.ADMIN)

    def perform_create(self, serializer: serializers.BaseSerializer[Membership]) -> None:
        serializer.instance = services.membership_add(
            team=self.get_team(),
            member=serializer.validated_data["user"],
            role=serializer.validated_data.get("role", Role.VIEWER),
            user=acting_user(self.request),
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Membership]) -> None:
        membership = updated_instance(serializer)
        role = serializer.validated_data.get("role", membership.role)
        serializer.instance = services.membership_set_role(
            membership=membership, role=role, user=acting_user(self.request)
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.membership_remove(membership=instance, user=acting_user(self.request))


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own API tokens. The key is returned once, at creation; DELETE revokes a token."""

    serializer_class = ApiTokenSerializer
    ordering_fields = ["created_at", "expires_at", "name"]
    search_fields = ["name"]
    throttle_scope = "auth"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return selectors.tokens_of(user=self.request.user)

    def get_throttles(self) -> list[BaseThrottle]:
        return [ScopedRateThrottle()] if self.action == "create" else super().get_throttles()

    @extend_schema(responses={201: ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if isinstance(request.auth, ApiToken) and not request.user.is_superuser:
            raise PermissionDenied("Create tokens from a logged-in session, not with another token.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.token_create(
            user=acting_user(request),
            name=serializer.validated_data["name"],
            expires_in_days=serializer.validated_data.get("expires_in_days"),
        )
        token.key = key  # type: ignore[attr-defined]  # shown this once: ApiTokenCreatedSerializer reads it here
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.token_revoke(token=instance, actor=acting_user(self.request))


class LoginView(APIView):
    """Start a browser session. Needs the CSRF token (the `csrftoken` cookie the console page or GET auth/csrf/
    sets, sent back as X-CSRFToken) and is throttled per client address and per username."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = list(LOGIN_THROTTLES)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF exempts APIViews from CSRF and checks it only for session-authenticated users; a login form that
        # skipped it would let another site log a victim's browser into the attacker's account.
        require_csrf(request)
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Session realm="raylane"'  # so a wrong password is a 401, not a 403

    @extend_schema(request=LoginSerializer, responses={200: UserSerializer})
    def post(self, request: Request) -> Response:
        credentials = LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(request, **credentials.validated_data)
        username = credentials.validated_data["username"]
        if user is None:
            services.login_record(user=None, username=username, remote_addr=client_ip(request))
            raise AuthenticationFailed("Wrong username or password.")
        login(request._request, user)
        services.login_record(user=user, username=username, remote_addr=client_ip(request))
        return Response(UserSerializer(user).data)


def require_csrf(request: Request) -> None:
    """Django's CSRF check (DRF's variant returns the reason instead of a response), with a way out in the message."""
    check = CSRFCheck(lambda _: None)  # type: ignore[arg-type]  # never called: the check answers on its own
    check.process_request(request._request)
    reason = check.process_view(request._request, None, (), {})  # type: ignore[arg-type]  # no view, as in DRF
    if reason:
        raise PermissionDenied(
            f"CSRF check failed: {reason} Log in from the console page, or GET /api/v1/auth/csrf/ first and send "
            "its csrftoken cookie back as the X-CSRFToken header."
        )


class CsrfView(APIView):
    """Sets the `csrftoken` cookie that session logins and every write from a browser session must echo back."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: CsrfTokenSerializer})
    def get(self, request: Request) -> Response:
        # get_token marks the request, and CsrfViewMiddleware sets the cookie on the way out.
        return Response({"csrf_token": get_token(request._request)})


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.logout_record(user=acting_user(request))
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first. You see your teams' entries and your own; site admins see everything."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    ordering_fields = ["at", "id"]
    search_fields = ["target_repr", "actor_username"]

    def get_queryset(self) -> QuerySet:
        return selectors.audit_entries_visible(user=self.request.user)
