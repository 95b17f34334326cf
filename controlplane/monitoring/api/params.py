"""The metric range a request asks for (start, end, step), read the way every time parameter of the API is."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from controlplane.api.params import parse_moment
from controlplane.core.errors import ApplicationError

MAX_POINTS = 2000


def parse_range(params: dict[str, Any], now: datetime | None = None) -> tuple[datetime, datetime, int]:
    """start/end (see `parse_moment`), step in seconds; defaults: the last hour in ~360 points."""
    now = now or timezone.now()

    def moment(name: str, default: datetime) -> datetime:
        raw = params.get(name)
        return default if raw in (None, "") else parse_moment(raw, name, now=now)

    end = moment("end", now)
    start = moment("start", end - timedelta(hours=1))
    if start >= end:
        raise ApplicationError("start must be before end", field="start")
    span_s = (end - start).total_seconds()
    if span_s > settings.RAYLANE_METRICS_ROLLUP_RETENTION_S + 86400:
        raise ApplicationError("the range is longer than the metrics are kept", field="start")
    raw_step = params.get("step")
    if raw_step in (None, ""):
        step_s = max(1, int(span_s // 360))
    else:
        try:
            step_s = int(str(raw_step).rstrip("s"))
        except ValueError as exc:
            raise ApplicationError(f"step must be whole seconds, not {raw_step!r}", field="step") from exc
        if step_s < 1:
            raise ApplicationError("step must be at least 1 second", field="step")
    if span_s / step_s > MAX_POINTS:
        raise ApplicationError(
            f"{span_s / step_s:.0f} points: use a step of at least {span_s / MAX_POINTS:.0f} s", field="step"
        )
    return start, end, step_s
