"""`/api/v1/deployments/<id>/keys/`: list, create (the key is in the answer, once) and revoke data-plane keys.

Team members see the keys' names and prefixes; deployers create and revoke them. A deployment of a team the caller
is not in is a 404, the same as one that does not exist."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.accounts.choices import Role
from controlplane.accounts.selectors import scope_to_teams
from controlplane.api.permissions import acting_user, require_role

from ..models import Deployment, DeploymentKey
from ..services import deployment_key_create, deployment_key_revoke


class DeploymentKeySerializer(serializers.ModelSerializer):
    created_by: serializers.SlugRelatedField[AbstractBaseUser] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = DeploymentKey
        fields = ["id", "name", "prefix", "created_by", "created_at", "revoked_at"]
        read_only_fields = fields


class CreatedKeySerializer(DeploymentKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key itself: shown this once, never stored")

    class Meta(DeploymentKeySerializer.Meta):
        fields = [*DeploymentKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class KeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


def deployment_for(request: Request, deployment_id: int) -> Deployment:
    deployments = scope_to_teams(Deployment.objects.select_related("team", "model"), request.user)
    return get_object_or_404(deployments, pk=deployment_id)


class DeploymentKeyListView(APIView):
    @extend_schema(summary="A deployment's data-plane keys", responses={200: DeploymentKeySerializer(many=True)})
    def get(self, request: Request, deployment_id: int) -> Response:
        deployment = deployment_for(request, deployment_id)
        keys = deployment.keys.select_related("created_by")
        return Response(DeploymentKeySerializer(keys, many=True).data)

    @extend_schema(
        summary="Create a data-plane key (shown once)",
        request=KeyCreateSerializer,
        responses={201: CreatedKeySerializer},
    )
    def post(self, request: Request, deployment_id: int) -> Response:
        deployment = deployment_for(request, deployment_id)
        require_role(request.user, deployment.team, Role.DEPLOYER)
        body = KeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["name"]
        key, raw = deployment_key_create(deployment=deployment, name=name, user=acting_user(request))
        data = DeploymentKeySerializer(key).data | {"key": raw}
        return Response(data, status=status.HTTP_201_CREATED)


class DeploymentKeyDetailView(APIView):
    @extend_schema(summary="Revoke a data-plane key", responses={200: DeploymentKeySerializer})
    def delete(self, request: Request, deployment_id: int, key_id: int) -> Response:
        deployment = deployment_for(request, deployment_id)
        key = get_object_or_404(deployment.keys.select_related("deployment__team", "created_by"), pk=key_id)
        require_role(request.user, deployment.team, Role.DEPLOYER)
        return Response(DeploymentKeySerializer(deployment_key_revoke(key=key, user=acting_user(request))).data)
