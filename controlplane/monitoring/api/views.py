"""History behind the live streams: metric series and recent log lines of a deployment (its events are the
rollouts app's: GET deployments/<id>/events/). Each answer carries the stream's sequence number, so a client that
saw a gap reloads here and continues live."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.params import TIME, bounded_int, version_param
from controlplane.core.broadcast import current_sequence, group_name
from controlplane.core.errors import ApplicationError
from controlplane.rollouts.selectors import deployment_visible

from .. import logs
from ..selectors import metric_series
from .params import parse_range
from .serializers import LogsSerializer, MetricSeriesSerializer

MAX_LINES = 1000


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
        deployment = deployment_visible(user=request.user, pk=pk)
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
        deployment = deployment_visible(user=request.user, pk=pk)
        try:
            log_filter = logs.LogFilter.parse(request.query_params)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise ApplicationError(message, field=field) from exc
        limit = bounded_int(request.query_params, "limit", 200, MAX_LINES)
        sequence = current_sequence(group_name("deployment", deployment.pk, "logs"))
        return Response({"seq": sequence, "lines": logs.recent(deployment.pk, log_filter, limit)})
