from django.urls import path

from .consumers import DeploymentConsumer, DeploymentLogsConsumer, RolloutConsumer

websocket_urlpatterns = [
    path("ws/deployments/<int:pk>/", DeploymentConsumer.as_asgi()),
    path("ws/deployments/<int:pk>/logs/", DeploymentLogsConsumer.as_asgi()),
    path("ws/rollouts/<int:pk>/", RolloutConsumer.as_asgi()),
]
