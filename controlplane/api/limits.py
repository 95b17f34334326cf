"""Request size before anything else: an ASGI middleware in front of Django, and Django's ASGI handler spooling
bodies to disk.

Django's ASGI handler reads a whole request body before any middleware, authentication or view runs, into a
`SpooledTemporaryFile(max_size=FILE_UPLOAD_MAX_MEMORY_SIZE)`. So a limit enforced by a view or an upload handler
comes too late: an anonymous client could make the web process hold (or write) gigabytes first. `RequestSizeLimit`
counts the body as it arrives and answers 413 as soon as it passes the limit (from Content-Length before reading a
byte, else while a chunked body streams), before Django sees the request. Only the upload of a model version gets
the large limit (RAYLANE_MAX_UPLOAD_BYTES), and only for requests that carry credentials at all (a bearer token or
a session cookie; Django checks them once the body is in); everything else gets RAYLANE_MAX_REQUEST_BYTES.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

from serving.archive import human_bytes

# As Django's ASGIHandler declares them, so the middleware and the handler it wraps fit one another.
Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = re.compile(r"^/api/v1/models/[^/]+/versions/?$")
MULTIPART_SLACK_BYTES = 1024 * 1024  # boundaries, headers and the small form fields around the artifact


def is_upload(scope: Scope) -> bool:
    return scope.get("method") == "POST" and bool(UPLOAD_PATH.match(scope.get("path", "")))


def body_limit(scope: Scope) -> tuple[int, str, str]:
    """(limit in bytes, the field a 413 names, the setting that sets it) for this request."""
    if is_upload(scope):
        return settings.RAYLANE_MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES, "artifact", "RAYLANE_MAX_UPLOAD_BYTES"
    return settings.RAYLANE_MAX_REQUEST_BYTES, "body", "RAYLANE_MAX_REQUEST_BYTES"


def has_credentials(scope: Scope) -> bool:
    """A bearer token or a session cookie is present (not checked here: presence is enough to be worth reading)."""
    if header(scope, b"authorization"):
        return True
    cookie = (header(scope, b"cookie") or b"").decode("latin-1")
    return f"{settings.SESSION_COOKIE_NAME}=" in cookie


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value
    return None


CODES = {401: "not_authenticated", 413: "too_large"}


async def refuse(send: Send, status: int, detail: str, field: str | None) -> None:
    body = json.dumps({"detail": detail, "code": CODES.get(status, "invalid"), "field": field}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read: this connection is done
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="api"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestSizeLimit:
    """ASGI middleware: HTTP bodies over the limit get a 413 before the wrapped application reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_upload(scope) and not has_credentials(scope):
            await refuse(send, 401, "log in or send an API token (Authorization: Bearer rl_…) to upload", None)
            return
        limit, field, setting = body_limit(scope)
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await refuse(send, 400, "Content-Length must be a whole number of bytes", "Content-Length")
                return
            if int(declared) > limit:
                detail = f"request body is {human_bytes(int(declared))}; the limit is {human_bytes(limit)} ({setting})"
                await refuse(send, 413, detail, field)
                return
        received, exceeded, responded = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body") or b"")
                if received > limit:  # a chunked body, or one longer than its Content-Length said
                    exceeded = True
                    return {"type": "http.disconnect"}  # Django's handler stops reading and answers nothing
            return message

        async def watched_send(message: Message) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if exceeded and not responded:
            detail = f"request body is larger than the limit of {human_bytes(limit)} ({setting})"
            await refuse(send, 413, detail, field)


def spool_dir() -> Path:
    """Request bodies past FILE_UPLOAD_MAX_MEMORY_SIZE go here: on the artifact volume, like finished uploads."""
    path = Path(settings.FILE_UPLOAD_TEMP_DIR or Path(settings.RAYLANE_ARTIFACT_ROOT) / "incoming")
    path.mkdir(parents=True, exist_ok=True)
    return path


class SpoolingASGIHandler(ASGIHandler):
    """Django's ASGI handler, spooling bodies to a file in `spool_dir()` past FILE_UPLOAD_MAX_MEMORY_SIZE (Django
    spools to the system temp dir; and with a size of 0 Python's SpooledTemporaryFile never spools at all)."""

    async def read_body(self, receive: Receive) -> tempfile.SpooledTemporaryFile[bytes]:
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115  closed by the request, as Django's own
            max_size=max(1, settings.FILE_UPLOAD_MAX_MEMORY_SIZE), mode="w+b", dir=str(spool_dir())
        )
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            if "body" in message:
                body_file.write(message["body"])
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file
