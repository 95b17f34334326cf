from django.db import connection
from django.http import HttpRequest, JsonResponse


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
