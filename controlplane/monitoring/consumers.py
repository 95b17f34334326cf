"""Websocket consumers: they authenticate, check the per-object permission, join the object's groups and forward
what `broadcast` sends. Nothing else: no queries per message, no business rules.

Access is not only checked at connect: every RAYLANE_WS_RECHECK_S seconds a socket re-checks its credential (the
session still logged in, the API token not revoked, the user active) and the user's role in the object's team, and
closes with 4401 or 4403 when either is gone. The logs socket takes filter changes from a token bucket
(RAYLANE_WS_FILTER_BURST, RAYLANE_WS_FILTER_RATE; 4429 past it) and sends at most RAYLANE_WS_BACKLOG_BYTES of backlog.

Every message names its `stream` (a group) and carries that stream's sequence number. The monitor's streams
(metrics, logs) have one sender, so a jump in their numbers means the channel layer dropped messages for this
client because it read too slowly: the consumer then says so and closes (4008); the client reloads the history
over REST and reconnects. A slow browser never holds up the monitor (the layer's per-channel capacity is bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from controlplane.accounts.choices import Role
from controlplane.accounts.models import TOKEN_PREFIX, ApiToken, hash_token
from controlplane.accounts.selectors import user_has_role
from controlplane.accounts.services import token_used
from controlplane.core.broadcast import current_sequence, group_name
from controlplane.rollouts.models import Deployment, Rollout

from . import logs

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_TOO_SLOW = 4008
logger = logging.getLogger(__name__)


class Credential:
    """How a socket's user proved who they are (a session or an API token), re-checked while the socket is open:
    logging out, revoking the token, deactivating the user or changing their password ends it."""

    def __init__(self, *, user_id: int, session_key: str | None = None, token_id: int | None = None) -> None:
        self.user_id, self.session_key, self.token_id = user_id, session_key, token_id

    def still_valid(self) -> bool:
        user = get_user_model().objects.filter(pk=self.user_id, is_active=True).first()
        if user is None:
            return False
        if self.token_id is not None:
            token = ApiToken.objects.filter(pk=self.token_id, user_id=self.user_id).first()
            return token is not None and token.is_active
        if self.session_key is None:
            return False
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=self.session_key)
        data = session.load()
        return str(data.get(SESSION_KEY)) == str(self.user_id) and constant_time_compare(
            data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
        )


def bearer_user(headers: Iterable[tuple[bytes, bytes]]) -> tuple[Any, int] | None:
    """(user, token id) for a valid `Authorization: Bearer rl_…` header: the CLI's way in (browsers send cookies)."""
    value = dict(headers).get(b"authorization", b"").decode(errors="replace").split()
    if len(value) != 2 or value[0].lower() not in ("bearer", "token") or not value[1].startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(value[1])).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    token_used(token=token)
    return token.user, token.pk


class TokenBucket:
    """At most `burst` at once, refilled at `rate` per second."""

    def __init__(self, *, burst: int, rate: float) -> None:
        self.capacity, self.rate = float(max(burst, 1)), rate
        self.tokens, self.stamp = self.capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ObjectConsumer(AsyncJsonWebsocketConsumer):
    resource = ""
    streams: tuple[str, ...] = ("",)  # "" is the object's own group (rollout events)
    single_sender: frozenset[str] = frozenset()  # streams whose gaps mean this client was too slow

    async def connect(self) -> None:
        user = self.scope.get("user")
        credential = None
        if user is not None and user.is_authenticated:
            session = self.scope.get("session")
            credential = Credential(user_id=user.pk, session_key=getattr(session, "session_key", None))
        else:
            found = await database_sync_to_async(bearer_user)(self.scope.get("headers", []))
            if found is not None:
                user, token_id = found
                self.scope["user"] = user
                credential = Credential(user_id=user.pk, token_id=token_id)
        if credential is None:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.pk = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await self.allowed(user, self.pk):
            await self.refuse(CLOSE_FORBIDDEN)  # also for objects that do not exist: nothing is revealed
            return
        self.groups_joined = [group_name(self.resource, self.pk, stream) for stream in self.streams]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.recheck_task = asyncio.ensure_future(self.recheck_forever(user, credential))
        self.sequences = {group: await database_sync_to_async(current_sequence)(group) for group in self.groups_joined}
        main = self.groups_joined[0]
        await self.send_json({"type": "hello", "group": main, "seq": self.sequences[main], "streams": self.sequences})
        await self.after_hello()

    async def recheck_forever(self, user: Any, credential: Credential) -> None:
        """Every RAYLANE_WS_RECHECK_S: is the session or token still good, and may the user still see the object?
        A user removed from the team, logged out or whose token was revoked loses the stream within one interval."""
        interval = max(float(settings.RAYLANE_WS_RECHECK_S), 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                valid = await database_sync_to_async(credential.still_valid)()
                allowed = valid and await self.allowed(user, self.pk)
            except Exception:  # a database hiccup: try again next interval rather than stop checking
                logger.exception("re-checking websocket access failed")
                continue
            if not valid:
                code, reason = CLOSE_UNAUTHENTICATED, "your session ended or your token was revoked: log in again"
            elif not allowed:
                code, reason = CLOSE_FORBIDDEN, "you may no longer see this"
            else:
                continue
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.send_json({"type": "closed", "code": code, "reason": reason})
                await self.close(code=code)
            return

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code` at once: a socket refused during the handshake reaches a browser as a bare
        HTTP 403 (close code 1006), and the page could not tell "log in again" from "no access". Nothing is sent."""
        await self.accept()
        await self.close(code=code)

    async def after_hello(self) -> None:
        """Subclasses send what a late joiner needs (the log backlog)."""

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "recheck_task", None)
        if task is not None:
            task.cancel()
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Read-only streams: anything a client sends is ignored."""

    async def push(self, message: dict[str, Any]) -> None:
        stream, sequence = message.get("group", ""), message["seq"]
        last = self.sequences.get(stream)
        if stream in self.watched_for_gaps() and last is not None and sequence > last + 1:
            await self.send_json(
                {"type": "resync", "stream": stream, "missed": sequence - last - 1, "reason": "reading too slowly"}
            )
            await self.close(code=CLOSE_TOO_SLOW)
            return
        if stream:
            self.sequences[stream] = max(sequence, last or 0)
        data = await self.shape(message["kind"], message["data"])
        if data is not None:
            await self.send_json({"type": message["kind"], "stream": stream, "seq": sequence, "data": data})

    def watched_for_gaps(self) -> set[str]:
        return {group_name(self.resource, self.pk, stream) for stream in self.single_sender}

    async def shape(self, kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
        return data

    @database_sync_to_async
    def allowed(self, user: Any, pk: int) -> bool:
        team_id = self.team_of(pk)
        return team_id is not None and user_has_role(user, team_id, Role.VIEWER)

    def team_of(self, pk: int) -> int | None:
        raise NotImplementedError


class DeploymentConsumer(ObjectConsumer):
    """/ws/deployments/<id>/: rollout events as they happen and per-version metrics every second."""

    resource = "deployment"
    streams: tuple[str, ...] = ("", "metrics")
    single_sender = frozenset({"metrics"})

    def team_of(self, pk: int) -> int | None:
        return Deployment.objects.filter(pk=pk).values_list("team_id", flat=True).first()


class DeploymentLogsConsumer(DeploymentConsumer):
    """/ws/deployments/<id>/logs/?version=&replica=&level=&q=: replica log lines, the kept backlog first. Send
    `{"filters": {...}}` to change the filters; the backlog comes again, filtered anew."""

    streams = ("logs",)
    single_sender = frozenset({"logs"})

    async def connect(self) -> None:
        query = {key: values[-1] for key, values in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        try:
            self.filter = logs.LogFilter.parse(query)
            self.filter_error = ""
        except ValueError as exc:
            self.filter, self.filter_error = logs.LogFilter(), str(exc)
        await super().connect()

    async def after_hello(self) -> None:
        if self.filter_error:
            await self.send_json({"type": "error", "message": self.filter_error})
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        await self.send_backlog()

    async def send_backlog(self) -> None:
        lines = await database_sync_to_async(logs.recent)(self.pk, self.filter, logs.BACKLOG_LINES)
        kept, dropped = newest_within(lines, int(settings.RAYLANE_WS_BACKLOG_BYTES))
        await self.send_json(
            {"type": "backlog", "filters": self.filter.as_dict(), "data": {"lines": kept, "dropped": dropped}}
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """Every message costs a token, valid or not: a client that floods the socket with filter changes (each
        one reads and sends a backlog) is told once and closed with 4429."""
        if not hasattr(self, "bucket"):
            self.bucket = TokenBucket(burst=settings.RAYLANE_WS_FILTER_BURST, rate=settings.RAYLANE_WS_FILTER_RATE)
        if not self.bucket.take():
            await self.send_json(
                {
                    "type": "error",
                    "message": f"too many messages: at most {settings.RAYLANE_WS_FILTER_BURST} at once and "
                    f"{settings.RAYLANE_WS_FILTER_RATE:g} per second (RAYLANE_WS_FILTER_RATE); reconnect to continue",
                }
            )
            await self.close(code=CLOSE_TOO_MANY)
            return
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_json({"type": "error", "message": 'send JSON: {"filters": {...}}'})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("filters"), dict):
            await self.send_json({"type": "error", "message": 'send {"filters": {"version", "replica", "level", "q"}}'})
            return
        try:
            self.filter = logs.LogFilter.parse(content["filters"])
        except ValueError as exc:
            await self.send_json({"type": "error", "message": str(exc)})
            return
        await self.send_backlog()

    async def shape(self, kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
        # Sent even when the filter leaves nothing: the sequence numbers must stay contiguous for the client.
        return {"lines": [line for line in data.get("lines", ()) if self.filter.matches(line)]}


class RolloutConsumer(ObjectConsumer):
    """/ws/rollouts/<id>/: every transition and analysis of one rollout."""

    resource = "rollout"

    def team_of(self, pk: int) -> int | None:
        return Rollout.objects.filter(pk=pk).values_list("deployment__team_id", flat=True).first()


def newest_within(lines: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest lines whose JSON fits in `limit` bytes, oldest first, and how many older ones were left out."""
    size, start = 0, len(lines)
    while start > 0:
        size += len(json.dumps(lines[start - 1]).encode()) + 2
        if size > limit:
            break
        start -= 1
    return lines[start:], start
