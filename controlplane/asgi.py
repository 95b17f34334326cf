"""ASGI entry point: HTTP goes through the request size limit (controlplane.api.limits, before Django reads a byte)
to Django; websockets go through an Origin check (only ALLOWED_HOSTS) and the session middleware to the monitoring
consumers, which take a session or an API token."""

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
        # channels' stubs want routes of their own URLPattern subtype, which Django's path() is not typed to return
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))  # type: ignore[arg-type]  # see above
        ),
    }
)
