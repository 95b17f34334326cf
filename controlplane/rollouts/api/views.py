from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.accounts.choices import Role
from controlplane.accounts.models import Team
from controlplane.api.params import bounded_int, parse_moment
from controlplane.api.permissions import TeamRolePermission, acting_user, require_role
from controlplane.api.viewsets import TeamOwnedViewSet, updated_instance
from controlplane.core.broadcast import current_sequence, group_name
from controlplane.registry.models import ModelVersion
from controlplane.registry.selectors import version_numbered

from .. import selectors, services
from ..engine import Command
from ..filtersets import DeploymentFilterSet, RolloutFilterSet, RolloutPolicyFilterSet
from ..models import Deployment, Rollout, RolloutPolicy
from .serializers import (
    DeploymentEventSerializer,
    DeploymentSerializer,
    EventsSerializer,
    RollbackSerializer,
    RolloutDetailSerializer,
    RolloutPolicySerializer,
    RolloutSerializer,
    RolloutStartSerializer,
)

MAX_EVENTS = 1000


class RolloutPolicyViewSet(TeamOwnedViewSet):
    serializer_class = RolloutPolicySerializer
    filterset_class = RolloutPolicyFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet:
        return selectors.policies_visible(user=self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[RolloutPolicy]) -> None:
        self.require_create_role(serializer.validated_data["team"])
        serializer.instance = services.policy_create(user=acting_user(self.request), **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[RolloutPolicy]) -> None:
        serializer.instance = services.policy_update(
            policy=updated_instance(serializer), changes=serializer.validated_data, user=acting_user(self.request)
        )

    def perform_destroy(self, instance: RolloutPolicy) -> None:
        services.policy_delete(policy=instance, user=acting_user(self.request))


class DeploymentViewSet(TeamOwnedViewSet):
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    search_fields = ["model__name"]
    ordering_fields = ["created_at", "model__name"]

    def get_queryset(self) -> QuerySet:
        return selectors.deployments_visible(user=self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Deployment]) -> None:
        fields = dict(serializer.validated_data)
        fields.pop("abort_rollout", None)  # a new deployment has no rollout
        self.require_create_role(fields["model"].team)
        serializer.instance = services.deployment_create(user=acting_user(self.request), **fields)

    def perform_update(self, serializer: serializers.BaseSerializer[Deployment]) -> None:
        changes = dict(serializer.validated_data)
        abort_rollout = changes.pop("abort_rollout", False)
        serializer.instance = services.deployment_update(
            deployment=updated_instance(serializer),
            changes=changes,
            user=acting_user(self.request),
            abort_rollout=abort_rollout,
        )

    def perform_destroy(self, instance: Deployment) -> None:
        services.deployment_delete(deployment=instance, user=acting_user(self.request))

    @extend_schema(
        summary="Events of a deployment (its rollouts', its deploys and rollbacks), oldest first",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only events after this time"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"The newest this many (max {MAX_EVENTS})"),
        ],
        responses={200: EventsSerializer},
    )
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        """History behind the deployment's live stream: `seq` is the stream's sequence number when this was read,
        so a client that saw a gap reloads here and continues live."""
        deployment = self.get_object()
        limit = bounded_int(request.query_params, "limit", 200, MAX_EVENTS)
        since = request.query_params.get("since")
        moment = parse_moment(since, "since", now=timezone.now()) if since else None
        events = selectors.deployment_events(deployment=deployment, since=moment, limit=limit)
        sequence = current_sequence(group_name("deployment", deployment.pk))
        return Response({"seq": sequence, "events": DeploymentEventSerializer(events, many=True).data})

    @extend_schema(request=RolloutStartSerializer, responses={201: RolloutDetailSerializer})
    @action(detail=True, methods=["post"], url_path="rollouts")
    def start_rollout(self, request: Request, pk: str | None = None) -> Response:
        """Start rolling a new version out with a policy. One active rollout per deployment (409 otherwise)."""
        deployment = self.get_object()
        require_role(request.user, deployment.team, Role.DEPLOYER)
        body = RolloutStartSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)  # the policy field only finds the caller's teams' policies
        version = self.version_of(deployment, body.validated_data["version"])
        policy = body.validated_data.get("policy")
        rollout = services.rollout_start(
            deployment=deployment, version=version, policy=policy, user=acting_user(request)
        )
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
        deployment = services.deployment_rollback(deployment=deployment, version=version, user=acting_user(request))
        return Response(DeploymentSerializer(deployment, context={"request": request}).data)

    @staticmethod
    def version_of(deployment: Deployment, number: int) -> ModelVersion:
        return version_numbered(model=deployment.model, number=number)


class RolloutViewSet(viewsets.ReadOnlyModelViewSet):
    """Rollouts and their events, newest first; the commands pause, resume, promote and abort."""

    permission_classes = [TeamRolePermission]
    team_path = "deployment__team"
    filterset_class = RolloutFilterSet
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet:
        return selectors.rollouts_visible(user=self.request.user)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Rollout]]:
        return RolloutDetailSerializer if self.action != "list" else RolloutSerializer

    def team_of(self, rollout: Rollout) -> Team:
        return rollout.deployment.team

    def command(self, request: Request, command: Command) -> Response:
        rollout = self.get_object()
        require_role(request.user, rollout.deployment.team, Role.DEPLOYER)
        rollout = services.rollout_command(rollout=rollout, command=command, user=acting_user(request))
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
