from rest_framework.routers import SimpleRouter

from .views import DeploymentViewSet, RolloutPolicyViewSet

router = SimpleRouter()
router.register("policies", RolloutPolicyViewSet, basename="rolloutpolicy")
router.register("deployments", DeploymentViewSet, basename="deployment")
urlpatterns = router.urls
