from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.accounts.choices import Role
from controlplane.accounts.selectors import scope_to_teams
from controlplane.api.permissions import TeamRolePermission, require_role
from controlplane.api.viewsets import TeamOwnedViewSet, client_ip
from controlplane.core.errors import ApplicationError
from controlplane.registry.models import ModelVersion

from .. import services
from ..engine import Command
from ..filtersets import DeploymentFilterSet, RolloutFilterSet, RolloutPolicyFilterSet
from ..models import Deployment, Rollout, RolloutPolicy
from ..tasks import reconcile
from .serializers import (
    DeploymentSerializer,
    RollbackSerializer,
    RolloutDetailSerializer,
    RolloutPolicySerializer,
    RolloutSerializer,
    RolloutStartSerializer,
)


class RolloutPolicyViewSet(TeamOwnedViewSet):
    queryset = RolloutPolicy.objects.select_related("team", "created_by")
    serializer_class = RolloutPolicySerializer
    filterset_class = RolloutPolicyFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def extra_create_fields(self, serializer):  # type: ignore[no-untyped-def]
        return {"created_by": self.request.user}


class DeploymentViewSet(TeamOwnedViewSet):
    queryset = Deployment.objects.select_related("team", "model", "stable_version", "created_by")
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    search_fields = ["model__name"]
    ordering_fields = ["created_at", "model__name"]

    def team_for_create(self, serializer):  # type: ignore[no-untyped-def]
        return serializer.validated_data["model"].team

    def extra_create_fields(self, serializer):  # type: ignore[no-untyped-def]
        return {"created_by": self.request.user, "team": serializer.validated_data["model"].team}

    def perform_create(self, serializer):  # type: ignore[no-untyped-def]
        team = self.team_for_create(serializer)
        require_role(self.request.user, team, Role.DEPLOYER)
        serializer.validated_data.pop("abort_rollout", None)  # a new deployment has no rollout
        with transaction.atomic():  # the quota check locks the team until the deployment is saved
            services.deployment_quota_enforce(team=team, deployment=None, changes=serializer.validated_data)
            super().perform_create(serializer)
            if serializer.instance.stable_version_id is not None:
                services.stable_change_record(deployment=serializer.instance, before=None, user=self.request.user)
        reconcile_after_commit()

    def perform_update(self, serializer):  # type: ignore[no-untyped-def]
        changes = dict(serializer.validated_data)
        abort_rollout = changes.pop("abort_rollout", False)
        serializer.instance = services.deployment_update(
            deployment=serializer.instance,
            changes=changes,
            user=self.request.user,
            abort_rollout=abort_rollout,
            remote_addr=client_ip(self.request),
        )

    def perform_destroy(self, instance):  # type: ignore[no-untyped-def]
        super().perform_destroy(instance)
        reconcile_after_commit()

    @extend_schema(request=RolloutStartSerializer, responses={201: RolloutDetailSerializer})
    @action(detail=True, methods=["post"], url_path="rollouts")
    def start_rollout(self, request: Request, pk: str | None = None) -> Response:
        """Start rolling a new version out with a policy. One active rollout per deployment (409 otherwise)."""
        deployment = self.get_object()
        require_role(request.user, deployment.team, Role.DEPLOYER)
        body = RolloutStartSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)  # the policy field only finds the caller's teams' policies
        version = self.version_of(deployment, body.validated_data["version"])
        policy = body.validated_data.get("policy") or deployment.default_policy
        if policy is None:
            raise ApplicationError("name a policy: this deployment has no default policy", field="policy")
        rollout = services.rollout_start(deployment=deployment, version=version, policy=policy, user=request.user)
        return Response(RolloutDetailSerializer(rollout).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RollbackSerializer, responses={200: DeploymentSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        """Serve an earlier version at 100% at once, aborting any active rollout."""
        deployment = self.get_object()
        require_role(request.user, deployment.team, Role.DEPLOYER)
        body = RollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = self.version_of(deployment, body.validated_data["version"])
        deployment = services.deployment_rollback(deployment=deployment, version=version, user=request.user)
        return Response(DeploymentSerializer(deployment, context={"request": request}).data)

    @staticmethod
    def version_of(deployment: Deployment, number: int) -> ModelVersion:
        version = ModelVersion.objects.filter(model=deployment.model, version=number).first()
        if version is None:
            raise ApplicationError(f"model '{deployment.model}' has no version {number}", field="version")
        return version


class RolloutViewSet(viewsets.ReadOnlyModelViewSet):
    """Rollouts and their events, newest first; the commands pause, resume, promote and abort."""

    permission_classes = [TeamRolePermission]
    team_path = "deployment__team"
    filterset_class = RolloutFilterSet
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet:
        rollouts = Rollout.objects.select_related("deployment__model", "deployment__team", "created_by")
        return scope_to_teams(rollouts, self.request.user, team_field="deployment__team").prefetch_related("events")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return RolloutDetailSerializer if self.action != "list" else RolloutSerializer

    def team_of(self, rollout: Rollout):  # type: ignore[no-untyped-def]
        return rollout.deployment.team

    def command(self, request: Request, command: Command) -> Response:
        rollout = self.get_object()
        require_role(request.user, rollout.deployment.team, Role.DEPLOYER)
        rollout = services.rollout_command(rollout=rollout, command=command, user=request.user)
        return Response(RolloutDetailSerializer(rollout).data)

    @extend_schema(request=None, responses={200: RolloutDetailSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self.command(request, Command.PAUSE)

    @extend_schema(request=None, responses={200: RolloutDetailSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self.command(request, Command.RESUME)

    @extend_schema(request=None, responses={200: RolloutDetailSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, pk: str | None = None) -> Response:
        """Skip the remaining steps: all traffic to the candidate (refused until it is loaded everywhere)."""
        return self.command(request, Command.PROMOTE)

    @extend_schema(request=None, responses={200: RolloutDetailSerializer})
    @action(detail=True, methods=["post"])
    def abort(self, request: Request, pk: str | None = None) -> Response:
        """All traffic back to the stable version; the rollout ends as aborted."""
        return self.command(request, Command.ABORT)


def reconcile_after_commit() -> None:
    """The cluster follows the database: schedule a reconcile once this write is visible to the worker."""
    transaction.on_commit(lambda: reconcile.delay())
