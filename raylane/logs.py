"""Following a deployment's replica logs over `/ws/deployments/<id>/logs/` (filters: version, replica, level, q).

The socket first sends a backlog of the lines the server keeps, then each line as it is written. When the stream is
cut (or dropped because this client read too slowly) it reconnects, and skips what it already gave: the backlog
that comes again is cut at the last line's time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .errors import StreamError
from .streams import open_stream
from .transport import Transport, clean
from .types import LogLine, from_api

RECONNECT_MAX_S = 5.0


def follow_logs(transport: Transport, deployment_id: int, filters: dict[str, Any]) -> Iterator[LogLine]:
    """Log lines as they come, forever (until the caller stops iterating)."""
    last: tuple[datetime | None, str, str] | None = None
    failures = 0
    query = {key: str(value) for key, value in (clean(filters) or {}).items()}
    while True:
        try:
            with open_stream(
                transport,
                f"/ws/deployments/{deployment_id}/logs/",
                what=f"deployment {deployment_id} logs",
                query=query,
            ) as stream:
                while True:
                    message = stream.receive(timeout=None)
                    if message is None:
                        continue
                    kind = message.get("type")
                    if kind not in ("backlog", "logs"):
                        continue
                    failures = 0
                    for raw in (message.get("data") or {}).get("lines", []):
                        line = from_api(LogLine, raw)
                        mark = (line.at, line.replica, line.message)
                        if kind == "backlog" and last is not None and not after(mark, last):
                            continue
                        last = mark
                        yield line
        except StreamError:
            time.sleep(min(RECONNECT_MAX_S, 0.5 * 2**failures))
            failures += 1


def after(mark: tuple[datetime | None, str, str], last: tuple[datetime | None, str, str]) -> bool:
    """Whether a backlog line comes after the last line given (lines without a time are given again)."""
    if mark[0] is None or last[0] is None:
        return mark != last
    return mark[0] > last[0]
