"""Replica log lines as structured records, the filters users apply to them, and the last lines per deployment.

Model server replicas log JSON lines (serving.config LOGGING_CONFIG) with Serve's fields plus `raylane_model` and
`raylane_version` while a version loads or predicts (serving.versions.ServingLogFields); anything else (a line written
before logging was configured, a text-encoded log) is parsed as Serve's text format or kept whole.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from controlplane.core.broadcast import redis_client

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
TEXT_LINE = re.compile(
    r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?) "
    r"(?:(?P<deployment>\S+) (?P<replica>\S+) )?(?:\S+ )?-- (?P<message>.*)$"
)
MESSAGE_LIMIT = 8000
BACKLOG_LINES = 200  # what a new logs socket gets first
logger = logging.getLogger(__name__)


def buffer_key(deployment_id: int) -> str:
    return f"raylane:logs:{deployment_id}"


def parse_time(value: Any) -> str:
    """ISO 8601 UTC from `timestamp_ns` or Serve's `asctime` (local time of the node: taken as written)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1e9, tz=UTC).isoformat(timespec="milliseconds")
    if isinstance(value, str):
        for layout in ("%Y-%m-%d %H:%M:%S,%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(value, layout).astimezone(UTC).isoformat(timespec="milliseconds")
            except ValueError:
                continue
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds")


def traceback_text(exc_text: str) -> str:
    """Ray's JSON log formatter writes a traceback as the reprs of one-string tuples run together
    (`('Traceback ...\\n',)('  File ...',)`): put the lines back together; anything else is kept as it is."""
    if not exc_text.startswith("('") and not exc_text.startswith('("'):
        return exc_text
    try:
        parts = ast.literal_eval("[" + exc_text.replace(",)(", ",),(") + "]")
        return "".join(str(part[0]) for part in parts)
    except (ValueError, SyntaxError, IndexError, TypeError, MemoryError, RecursionError):
        return exc_text


def parse_line(line: str, *, replica: str, version: int | None) -> dict[str, Any] | None:
    """A structured record of one line of a replica's log; `version` is the version of a dedicated replica."""
    line = line.rstrip("\n")
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict):
        message = str(record.get("message", "")).rstrip("\n")
        if record.get("exc_text"):
            message = f"{message}\n{traceback_text(str(record['exc_text']))}".rstrip("\n")
        raw_version = str(record.get("raylane_version", version))
        return {
            "at": parse_time(record.get("timestamp_ns") or record.get("asctime")),
            "level": str(record.get("levelname", "INFO")).upper(),
            "version": int(raw_version) if raw_version.isdigit() else None,
            "replica": str(record.get("replica") or replica),
            "model": record.get("raylane_model"),
            "request_id": record.get("request_id", ""),
            "message": message[:MESSAGE_LIMIT],
        }
    match = TEXT_LINE.match(line)
    return {
        "at": parse_time(match["time"] if match else None),
        "level": match["level"] if match else "INFO",
        "version": version,
        "replica": (match["replica"] if match and match["replica"] else replica),
        "model": None,
        "request_id": "",
        "message": (match["message"] if match else line)[:MESSAGE_LIMIT],
    }


@dataclass(frozen=True)
class LogFilter:
    """What a user asked to see: lines of one version or replica, from a level up, containing a text."""

    version: int | None = None
    replica: str = ""
    level: str = ""
    text: str = ""

    @classmethod
    def parse(cls, params: dict[str, Any]) -> LogFilter:
        """From query parameters; raises ValueError naming the bad field."""
        version = params.get("version") or None
        if version is not None and not str(version).isdigit():
            raise ValueError(f"version: expected a version number, got {version!r}")
        level = str(params.get("level") or "").upper()
        if level and level not in LEVELS:
            raise ValueError(f"level: expected one of {', '.join(LEVELS)}, got {params.get('level')!r}")
        return cls(
            version=int(version) if version is not None else None,
            replica=str(params.get("replica") or "").strip(),
            level=level,
            text=str(params.get("q") or params.get("text") or "").strip(),
        )

    def matches(self, line: dict[str, Any]) -> bool:
        if self.version is not None and line.get("version") != self.version:
            return False
        if self.replica and self.replica not in str(line.get("replica", "")):
            return False
        if self.level and LEVELS.get(line.get("level", ""), 20) < LEVELS[self.level]:
            return False
        return not self.text or self.text.lower() in str(line.get("message", "")).lower()

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "replica": self.replica, "level": self.level, "q": self.text}


def keep(lines_by_deployment: dict[int, list[dict[str, Any]]]) -> None:
    """Append to each deployment's buffer of recent lines (late joiners and the REST history read it)."""
    if not lines_by_deployment:
        return
    kept = settings.RAYLANE_LOG_LINES_KEPT
    pipeline = redis_client().pipeline()
    for deployment_id, lines in lines_by_deployment.items():
        key = buffer_key(deployment_id)
        pipeline.rpush(key, *(json.dumps(line) for line in lines))
        pipeline.ltrim(key, -kept, -1)
    pipeline.execute()


def recent(deployment_id: int, log_filter: LogFilter | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` kept lines that match, oldest first."""
    raw = redis_client().lrange(buffer_key(deployment_id), 0, -1)
    lines = [json.loads(item) for item in raw]
    if log_filter is not None:
        lines = [line for line in lines if log_filter.matches(line)]
    return lines[-limit:] if limit else []


def forget(deployment_id: int) -> None:
    redis_client().delete(buffer_key(deployment_id))
