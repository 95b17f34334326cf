from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from controlplane.accounts.admin_audit import admin_login
from controlplane.api.views import ServerInfoView, api_not_found, healthz
from controlplane.frontend import CONSOLE_PATH, console
from controlplane.monitoring.exposition import metrics_view
from controlplane.registry.internal import artifact_download

api_v1: list[URLPattern | URLResolver] = [
    path("info/", ServerInfoView.as_view(), name="server-info"),
    path("", include("controlplane.accounts.api.urls")),
    path("", include("controlplane.registry.api.urls")),
    path("", include("controlplane.rollouts.api.urls")),
    path("", include("controlplane.monitoring.api.urls")),
]

urlpatterns = [
    path("admin/login/", admin_login),  # the admin's own login view, throttled and audited
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("internal/artifacts/<str:sha256>", artifact_download, name="internal-artifact"),
    re_path(r"^api/", api_not_found),
    re_path(CONSOLE_PATH, console, name="console"),  # every console path (/, /models/iris, …); never the above
]

handler404 = "controlplane.api.views.handler404"
handler500 = "controlplane.api.views.handler500"
