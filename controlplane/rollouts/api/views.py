from django.db import transaction

from controlplane.api.viewsets import TeamOwnedViewSet

from ..filtersets import DeploymentFilterSet, RolloutPolicyFilterSet
from ..models import Deployment, RolloutPolicy
from ..tasks import reconcile
from .serializers import DeploymentSerializer, RolloutPolicySerializer


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
        super().perform_create(serializer)
        reconcile_after_commit()

    def perform_update(self, serializer):  # type: ignore[no-untyped-def]
        super().perform_update(serializer)
        reconcile_after_commit()

    def perform_destroy(self, instance):  # type: ignore[no-untyped-def]
        super().perform_destroy(instance)
        reconcile_after_commit()


def reconcile_after_commit() -> None:
    """The cluster follows the database: schedule a reconcile once this write is visible to the worker."""
    transaction.on_commit(lambda: reconcile.delay())
