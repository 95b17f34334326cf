"""Websocket consumers: they authenticate, check the per-object permission, join the object's group and forward
what `broadcast` sends. Nothing else: no queries per message, no business rules."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.accounts.choices import Role
from controlplane.accounts.selectors import user_has_role
from controlplane.rollouts.models import Deployment, Rollout

from .broadcast import current_sequence, group_name

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ObjectConsumer(AsyncJsonWebsocketConsumer):
    resource = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await self.allowed(user, pk):
            await self.close(code=CLOSE_FORBIDDEN)  # also for objects that do not exist: nothing is revealed
            return
        self.group = group_name(self.resource, pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        sequence = await database_sync_to_async(current_sequence)(self.group)
        await self.send_json({"type": "hello", "group": self.group, "seq": sequence})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Read-only streams: anything a client sends is ignored."""

    async def push(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": message["kind"], "seq": message["seq"], "data": message["data"]})

    @database_sync_to_async
    def allowed(self, user: Any, pk: int) -> bool:
        team_id = self.team_of(pk)
        return team_id is not None and user_has_role(user, team_id, Role.VIEWER)

    def team_of(self, pk: int) -> int | None:
        raise NotImplementedError


class DeploymentConsumer(ObjectConsumer):
    """/ws/deployments/<id>/: the deployment's rollouts as they move (metrics join with the monitor)."""

    resource = "deployment"

    def team_of(self, pk: int) -> int | None:
        return Deployment.objects.filter(pk=pk).values_list("team_id", flat=True).first()


class RolloutConsumer(ObjectConsumer):
    """/ws/rollouts/<id>/: every transition and analysis of one rollout."""

    resource = "rollout"

    def team_of(self, pk: int) -> int | None:
        return Rollout.objects.filter(pk=pk).values_list("deployment__team_id", flat=True).first()
