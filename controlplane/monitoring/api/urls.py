from django.urls import path

from .views import DeploymentEventsView, DeploymentLogsView, DeploymentMetricsView

urlpatterns = [
    path("deployments/<int:pk>/metrics/", DeploymentMetricsView.as_view(), name="deployment-metrics"),
    path("deployments/<int:pk>/logs/", DeploymentLogsView.as_view(), name="deployment-logs"),
    path("deployments/<int:pk>/events/", DeploymentEventsView.as_view(), name="deployment-events"),
]
