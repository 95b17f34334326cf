"""The control plane's websockets (`/ws/rollouts/<id>/`, `/ws/deployments/<id>/logs/`), as iterators of messages.

The server authenticates a socket by the same bearer token as the REST API and checks its Origin against its
ALLOWED_HOSTS, so the client sends the server's own origin. A refused socket is accepted and closed at once with a
code (4401 not authenticated, 4403 not visible, 4400 bad filter, 4429 too many messages, 4008 read too slowly):
those become the SDK's exceptions; a stream cut for any other reason is a `StreamError` the caller recovers from
(reconnect, or fall back to polling the REST API).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from .errors import AuthError, BadRequest, NotFound, RateLimited, StreamError
from .transport import Transport

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_TOO_SLOW = 4008
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
OPEN_TIMEOUT_S = 10.0


def websocket_url(base: str, path: str, query: dict[str, Any] | None = None) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{path}{suffix}"


def origin_of(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


class Stream:
    """One open socket. `receive(timeout)` returns the next JSON message, or None when nothing came in time."""

    def __init__(self, connection: ClientConnection, what: str) -> None:
        self.connection, self.what = connection, what
        self.last_error = ""

    def receive(self, timeout: float | None) -> dict[str, Any] | None:
        try:
            raw = self.connection.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise self.closed(exc) from exc
        try:
            message = json.loads(raw)
        except ValueError:
            return {}
        if isinstance(message, dict) and message.get("type") == "error":
            self.last_error = str(message.get("message", ""))
        return message if isinstance(message, dict) else {}

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.connection.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise self.closed(exc) from exc

    def closed(self, exc: ConnectionClosed) -> Exception:
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = (exc.rcvd.reason if exc.rcvd is not None else "") or self.last_error
        if code == CLOSE_UNAUTHENTICATED:
            return AuthError(f"the server closed the {self.what} stream: {reason or 'not authenticated'}", status=401)
        if code == CLOSE_FORBIDDEN:
            return NotFound(f"{self.what} not found (or none of your teams can see it)", status=404)
        if code == CLOSE_BAD_REQUEST:
            return BadRequest(self.last_error or f"the server refused the {self.what} stream's filters", status=400)
        if code == CLOSE_TOO_MANY:
            return RateLimited(self.last_error or "too many messages on the stream", status=429)
        if code == CLOSE_TOO_SLOW:
            return StreamError(f"the {self.what} stream was dropped: this client read too slowly")
        return StreamError(
            f"the {self.what} stream closed ({code or 'no close code'}{': ' + reason if reason else ''})"
        )


@contextmanager
def open_stream(transport: Transport, path: str, *, what: str, query: dict[str, Any] | None = None) -> Iterator[Stream]:
    """A socket to `path` on the server, authenticated with the transport's token."""
    url = websocket_url(transport.url, path, query)
    headers = {"Authorization": f"Bearer {transport.token}"} if transport.token else {}
    try:
        connection = connect(
            url,
            origin=Origin(origin_of(transport.url)),
            additional_headers=headers,
            open_timeout=OPEN_TIMEOUT_S,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header=transport.http.headers.get("User-Agent") or None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise StreamError(
            f"the server refused the {what} stream (HTTP {status}); a proxy may not pass websockets, or the "
            f"server's ALLOWED_HOSTS does not include {urlsplit(transport.url).hostname}"
        ) from exc
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        raise StreamError(f"cannot open the {what} stream at {url}: {exc}") from exc
    try:
        yield Stream(connection, what)
    finally:
        connection.close()
