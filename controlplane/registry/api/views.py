from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from controlplane.accounts.choices import Role
from controlplane.api.permissions import acting_user, require_role
from controlplane.api.viewsets import TeamOwnedViewSet, updated_instance

from .. import selectors, services
from ..filtersets import ModelFilterSet, ModelVersionFilterSet
from ..models import Model, ModelVersion
from ..storage import artifact_path
from .serializers import (
    ModelMoveSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
    ModelVersionSerializer,
    ModelVersionTrustSerializer,
    ModelVersionUploadSerializer,
)


class ModelViewSet(TeamOwnedViewSet):
    serializer_class = ModelSerializer
    filterset_class = ModelFilterSet
    lookup_field = "name"
    lookup_value_regex = "[a-z0-9-]+"
    search_fields = ["name", "description", "tags"]
    ordering_fields = ["name", "created_at", "updated_at"]
    action_roles = {"destroy": Role.ADMIN, "move": Role.ADMIN}

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Model]]:
        return ModelUpdateSerializer if self.action in ("update", "partial_update") else ModelSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.models_visible(user=self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Model]) -> None:
        self.require_create_role(serializer.validated_data["team"])
        serializer.instance = services.model_create(user=acting_user(self.request), **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Model]) -> None:
        serializer.instance = services.model_update(
            model=updated_instance(serializer), changes=serializer.validated_data, user=acting_user(self.request)
        )

    def perform_destroy(self, instance: Model) -> None:
        services.model_delete(model=instance, user=acting_user(self.request))

    @extend_schema(
        summary="Move a model, its deployment and the policies only it uses to another team",
        request=ModelMoveSerializer,
        responses={200: ModelSerializer},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, name: str | None = None) -> Response:
        """Site admins, or admins of both teams: the move hands over everything the model needs to keep serving."""
        model = self.get_object()  # admin of the model's team (action_roles)
        body = ModelMoveSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        team = body.validated_data["team"]
        require_role(request.user, team, Role.ADMIN)
        model = services.model_move(model=model, team=team, user=acting_user(request))
        return Response(ModelSerializer(self.get_queryset().get(pk=model.pk), context={"request": request}).data)


@extend_schema_view(
    list=extend_schema(summary="List a model's versions"),
    retrieve=extend_schema(summary="One version"),
)
class ModelVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Versions of one model, addressed by number. Upload creates the next number."""

    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    lookup_field = "version"
    lookup_value_regex = "[0-9]{1,9}"
    ordering_fields = ["version", "created_at"]
    search_fields = ["filename", "artifact__sha256"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_model(self) -> Model:
        if not hasattr(self, "_model"):
            models = selectors.models_visible(user=self.request.user)
            self._model = get_object_or_404(models, name=self.kwargs["model_name"])
        return self._model

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        return selectors.versions_of(model=self.get_model())

    @extend_schema(
        summary="Upload a new version",
        request={"multipart/form-data": ModelVersionUploadSerializer},
        responses={201: ModelVersionSerializer, 400: OpenApiResponse(description="The file is not a usable model")},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        model = self.get_model()
        require_role(request.user, model.team, Role.DEPLOYER)
        upload = ModelVersionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        version = services.version_upload(
            model=model,
            upload=upload.validated_data["artifact"],
            user=acting_user(request),
            metadata=upload.validated_data.get("metadata"),
            signature=upload.validated_data.get("signature"),
        )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            self.throttle_scope = "upload"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(summary="Update a version's metadata")
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_object()
        require_role(request.user, version.model.team, Role.DEPLOYER)
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer: serializers.BaseSerializer[ModelVersion]) -> None:
        version = updated_instance(serializer)
        services.version_update_metadata(
            version=version,
            metadata=serializer.validated_data.get("metadata", version.metadata),
            user=acting_user(self.request),
        )

    @extend_schema(summary="Delete a version that is not deployed", responses={204: None, 409: OpenApiTypes.OBJECT})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_object()
        require_role(request.user, version.model.team, Role.DEPLOYER)
        services.version_delete(version=version, user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Download the artifact",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        version = self.get_object()
        response = FileResponse(artifact_path(version.sha256).open("rb"), as_attachment=True, filename=version.filename)
        response["X-Raylane-SHA256"] = version.sha256
        return response

    @extend_schema(
        summary="Mark a version trusted (admins only): pickle, joblib and Python packages deploy only when trusted",
        request=ModelVersionTrustSerializer,
        responses={200: ModelVersionSerializer},
    )
    @action(detail=True, methods=["post"])
    def trust(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_object()
        require_role(request.user, version.model.team, Role.ADMIN)
        decision = ModelVersionTrustSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        version = services.version_set_trusted(
            version=version,
            trusted=decision.validated_data["trusted"],
            user=acting_user(request),
        )
        return Response(ModelVersionSerializer(version).data)
