from django.urls import path
from rest_framework.routers import SimpleRouter

from .keys import DeploymentKeyDetailView, DeploymentKeyListView
from .views import DeploymentViewSet, RolloutPolicyViewSet, RolloutViewSet

router = SimpleRouter()
router.register("policies", RolloutPolicyViewSet, basename="rolloutpolicy")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("rollouts", RolloutViewSet, basename="rollout")
urlpatterns = [
    *router.urls,
    path("deployments/<int:deployment_id>/keys/", DeploymentKeyListView.as_view(), name="deploymentkey-list"),
    path(
        "deployments/<int:deployment_id>/keys/<int:key_id>/",
        DeploymentKeyDetailView.as_view(),
        name="deploymentkey-detail",
    ),
]
