from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ModelVersionViewSet, ModelViewSet

router = SimpleRouter(trailing_slash=True)
router.register("models", ModelViewSet, basename="model")

version_list = ModelVersionViewSet.as_view({"get": "list", "post": "create"})
version_detail = ModelVersionViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
version_download = ModelVersionViewSet.as_view({"get": "download"})
version_trust = ModelVersionViewSet.as_view({"post": "trust"})

urlpatterns = [
    *router.urls,
    path("models/<slug:model_name>/versions/", version_list, name="modelversion-list"),
    path("models/<slug:model_name>/versions/<int:version>/", version_detail, name="modelversion-detail"),
    path("models/<slug:model_name>/versions/<int:version>/download/", version_download, name="modelversion-download"),
    path("models/<slug:model_name>/versions/<int:version>/trust/", version_trust, name="modelversion-trust"),
]
