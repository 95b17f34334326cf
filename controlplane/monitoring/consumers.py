"""Websocket consumers: they authenticate, check the per-object permission, join the object's groups and forward
what `broadcast` sends. Nothing else: no queries per message, no business rules.

Every message names its `stream` (a group) and carries that stream's sequence number. The monitor's streams
(metrics, logs) have one sender, so a jump in their numbers means the channel layer dropped messages for this
client because it read too slowly: the consumer then says so and closes (4008); the client reloads the history
over REST and reconnects. A slow browser never holds up the monitor (the layer's per-channel capacity is bounded).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.accounts.choices import Role
from controlplane.accounts.selectors import user_has_role
from controlplane.rollouts.models import Deployment, Rollout

from . import logs
from .broadcast import current_sequence, group_name

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4008


class ObjectConsumer(AsyncJsonWebsocketConsumer):
    resource = ""
    streams: tuple[str, ...] = ("",)  # "" is the object's own group (rollout events)
    single_sender: frozenset[str] = frozenset()  # streams whose gaps mean this client was too slow

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
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
        self.sequences = {group: await database_sync_to_async(current_sequence)(group) for group in self.groups_joined}
        main = self.groups_joined[0]
        await self.send_json({"type": "hello", "group": main, "seq": self.sequences[main], "streams": self.sequences})
        await self.after_hello()

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code` at once: a socket refused during the handshake reaches a browser as a bare
        HTTP 403 (close code 1006), and the page could not tell "log in again" from "no access". Nothing is sent."""
        await self.accept()
        await self.close(code=code)

    async def after_hello(self) -> None:
        """Subclasses send what a late joiner needs (the log backlog)."""

    async def disconnect(self, code: int) -> None:
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
    streams = ("", "metrics")
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
        await self.send_json({"type": "backlog", "filters": self.filter.as_dict(), "data": {"lines": lines}})

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
