"""Query parameters every app's API reads the same way: bounded whole numbers, version numbers, moments in time.
Each refusal names the parameter."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms

from controlplane.core.errors import ApplicationError

from .filters import UTCIsoDateTimeField

TIME = "ISO 8601 time, epoch seconds, or -N for N seconds ago"


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


def parse_moment(raw: Any, name: str, *, now: datetime) -> datetime:
    """ISO 8601 (as every filter of the API reads it: any offset, normalised to UTC), epoch seconds, or `-N`: N
    seconds before `now`."""
    text = str(raw).strip()
    problem = f"not a time: {raw!r} (ISO 8601, epoch seconds, or -N seconds ago)"
    try:
        if text.lstrip("-").isdigit():
            seconds = int(text)
            return now + timedelta(seconds=seconds) if text.startswith("-") else datetime.fromtimestamp(seconds, tz=UTC)
        parsed = UTCIsoDateTimeField().clean(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise ApplicationError(problem, field=name) from exc
    except forms.ValidationError as exc:
        raise ApplicationError(f"{problem}: {' '.join(exc.messages)}", field=name) from exc
    return parsed
