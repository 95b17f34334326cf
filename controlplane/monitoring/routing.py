from django.urls import path

from .consumers import DeploymentConsumer, DeploymentLogsConsumer, RolloutConsumer

# Channels routes consumers with Django's path(), whose stubs know only views, not ASGI apps: hence the ignores.
websocket_urlpatterns = [
    path("ws/deployments/<int:pk>/", DeploymentConsumer.as_asgi()),  # type: ignore[arg-type]  # an ASGI app
    path("ws/deployments/<int:pk>/logs/", DeploymentLogsConsumer.as_asgi()),  # type: ignore[arg-type]  # an ASGI app
    path("ws/rollouts/<int:pk>/", RolloutConsumer.as_asgi()),  # type: ignore[arg-type]  # an ASGI app
]
