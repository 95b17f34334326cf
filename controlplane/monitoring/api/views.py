"""History behind the live streams: metric series, recent log lines and rollout events of a deployment. Each
answer carries the stream's sequence number, so a client that saw a gap reloads here and continues live."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.accounts.selectors import scope_to_teams
from controlplane.core.broadcast import current_sequence, group_name
from controlplane.core.errors import ApplicationError
from controlplane.rollouts.models import Deployment, RolloutEvent

from .. import logs
from ..services import metric_series, parse_moment, parse_range
from .serializers import DeploymentEventSerializer, EventsSerializer, LogsSerializer, MetricSeriesSerializer

MAX_LINES = 1000
MAX_EVENTS = 1000


def visible_deployment(request: Request, pk: int) -> Deployment:
    """404 for deployments of other teams as for missing ones: nothing is revealed."""
    return get_object_or_404(scope_to_teams(Deployment.objects.all(), request.user), pk=pk)


def bounded_int(params: Any, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    if not str(raw).isdigit() or not 1 <= int(raw) <= maximum:
        raise ApplicationError(f"{name} must be a whole number from 1 to {maximum}", field=name)
    return int(raw)


def version_param(params: Any) -> int | None:
    raw = params.get("version")
    if raw in (None, ""):
        return None
    if not str(raw).isdigit() or int(raw) > 2**31 - 1:
        raise ApplicationError(f"version must be a version number, not {raw!r}", field="version")
    return int(raw)


TIME = "ISO 8601 time, epoch seconds, or -N for N seconds ago"


class DeploymentMetricsView(APIView):
    @extend_schema(
        summary="Per-version metric series of a deployment",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.STR, description=f"{TIME} (default: an hour before end)"),
            OpenApiParameter("end", OpenApiTypes.STR, description=f"{TIME} (default: now)"),
            OpenApiParameter("step", OpenApiTypes.INT, description="Seconds per point (default: ~360 points)"),
            OpenApiParameter("version", OpenApiTypes.INT, description="Only this version"),
        ],
        responses={200: MetricSeriesSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        deployment = visible_deployment(request, pk)
        start, end, step_s = parse_range(request.query_params)
        version = version_param(request.query_params)
        sequence = current_sequence(group_name("deployment", deployment.pk, "metrics"))
        series = metric_series(deployment=deployment, start=start, end=end, step_s=step_s, version=version)
        return Response({**series, "seq": sequence})


class DeploymentLogsView(APIView):
    @extend_schema(
        summary="Recent replica log lines of a deployment",
        parameters=[
            OpenApiParameter("version", OpenApiTypes.INT, description="Only lines logged while this version ran"),
            OpenApiParameter("replica", OpenApiTypes.STR, description="Only replicas whose id contains this"),
            OpenApiParameter("level", OpenApiTypes.STR, enum=list(logs.LEVELS), description="This level and up"),
            OpenApiParameter("q", OpenApiTypes.STR, description="Only lines containing this text (any case)"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most this many lines (max {MAX_LINES})"),
        ],
        responses={200: LogsSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        deployment = visible_deployment(request, pk)
        try:
            log_filter = logs.LogFilter.parse(request.query_params)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise ApplicationError(message, field=field) from exc
        limit = bounded_int(request.query_params, "limit", 200, MAX_LINES)
        sequence = current_sequence(group_name("deployment", deployment.pk, "logs"))
        return Response({"seq": sequence, "lines": logs.recent(deployment.pk, log_filter, limit)})


class DeploymentEventsView(APIView):
    @extend_schema(
        summary="Events of a deployment (its rollouts', its deploys and rollbacks), oldest first",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only events after this time"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"The newest this many (max {MAX_EVENTS})"),
        ],
        responses={200: EventsSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        deployment = visible_deployment(request, pk)
        limit = bounded_int(request.query_params, "limit", 200, MAX_EVENTS)
        events = RolloutEvent.objects.filter(deployment=deployment)  # its rollouts' and its own (deploys, rollbacks)
        if request.query_params.get("since"):
            since = parse_moment(request.query_params["since"], "since", now=timezone.now())
            events = events.filter(at__gt=since)
        newest = list(events.order_by("-at", "-id")[:limit])[::-1]
        sequence = current_sequence(group_name("deployment", deployment.pk))
        return Response({"seq": sequence, "events": DeploymentEventSerializer(newest, many=True).data})
