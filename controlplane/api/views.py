from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from raylane import __version__


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    return JsonResponse({"detail": f"No API endpoint at {request.path}.", "code": "not_found"}, status=404)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": f"Nothing at {request.path}.", "code": "not_found"}, status=404)


def handler500(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal error; it has been logged.", "code": "server_error"}, status=500)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and `make up`: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class ServerInfoSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="Raylane's version on this server")
    serve_url = serializers.CharField(
        help_text="Where inference goes (the Serve ingress): RAYLANE_SERVE_URL, else this host on RAYLANE_SERVE_PORT"
    )
    protocols = serializers.ListField(child=serializers.CharField(), help_text="Inference protocols the ingress speaks")
    token_default_days = serializers.IntegerField(help_text="A new API token's lifetime when none is asked for")
    token_max_days = serializers.IntegerField(help_text="The longest lifetime a new API token may ask for")


class ServerInfoView(APIView):
    """What a client needs to know about this server: its version, where inference requests go (they never pass
    through the control plane), and the lifetimes a new API token may have."""

    @extend_schema(responses={200: ServerInfoSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "version": __version__,
                "serve_url": serve_url(request),
                "protocols": ["v1", "v2"],
                "token_default_days": settings.RAYLANE_TOKEN_DEFAULT_DAYS,
                "token_max_days": settings.RAYLANE_TOKEN_MAX_DAYS,
            }
        )


def serve_url(request: Request) -> str:
    if settings.RAYLANE_SERVE_URL:
        return str(settings.RAYLANE_SERVE_URL).rstrip("/")
    host = request.get_host()  # validated against ALLOWED_HOSTS; "name", "name:port", "[::1]" or "[::1]:port"
    if not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    return f"{request.scheme}://{host}:{settings.RAYLANE_SERVE_PORT}"
