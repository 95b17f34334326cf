"""ASGI entry point: HTTP goes through the request size limit (controlplane.api.limits, before Django reads a byte)
to Django; websockets go through session authentication and an Origin check (only ALLOWED_HOSTS) to the monitoring
consumers."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")
django.setup(set_prefix=False)  # as get_asgi_application() does, before the consumers import models

from controlplane.api.limits import RequestSizeLimit, SpoolingASGIHandler  # noqa: E402

django_application = SpoolingASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from controlplane.monitoring.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestSizeLimit(django_application),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
