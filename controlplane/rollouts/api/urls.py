from rest_framework.routers import SimpleRouter

from .views import DeploymentViewSet, RolloutPolicyViewSet, RolloutViewSet

router = SimpleRouter()
router.register("policies", RolloutPolicyViewSet, basename="rolloutpolicy")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("rollouts", RolloutViewSet, basename="rollout")
urlpatterns = router.urls
