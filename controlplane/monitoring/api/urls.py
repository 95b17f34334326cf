from django.urls import path

from .views import DeploymentLogsView, DeploymentMetricsView

urlpatterns = [
    path("deployments/<int:pk>/metrics/", DeploymentMetricsView.as_view(), name="deployment-metrics"),
    path("deployments/<int:pk>/logs/", DeploymentLogsView.as_view(), name="deployment-logs"),
]
