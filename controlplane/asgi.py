"""ASGI entry point: HTTP goes to Django; websockets are added by the monitoring app."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.local")

application = get_asgi_application()
