"""The one way anything is pushed to browsers (AWX style): groups named `<resource>-<id>`, a sequence number per
group so a client can tell it missed something, and sending only after the transaction that caused it commits.

Infrastructure, not an app: rollouts push events and monitoring pushes samples through it, and it imports neither."""

from __future__ import annotations

import logging
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)
SEQUENCE_TTL_S = 7 * 24 * 3600


def group_name(resource: str, pk: int, stream: str = "") -> str:
    """`deployment-3` (rollout events), `deployment-3-metrics`, `deployment-3-logs`: each numbered on its own."""
    return f"{resource}-{pk}-{stream}" if stream else f"{resource}-{pk}"


def sequence_key(group: str) -> str:
    return f"raylane:ws:seq:{group}"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def current_sequence(group: str) -> int:
    value = redis_client().get(sequence_key(group))
    return int(value) if value else 0


def send_now(group: str, kind: str, data: dict[str, Any]) -> int:
    """Number the message and send it to the group; never raises into the caller (a push is not worth a 500)."""
    return send_many([(group, kind, data)])[0]


def send_many(messages: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    """`send_now` for many groups at once (the monitor's every second): one Redis round trip to number them all,
    one event loop to send them. Returns each message's sequence number (0 when it could not be sent)."""
    if not messages:
        return []
    try:
        pipeline = redis_client().pipeline()
        for group, _, _ in messages:
            pipeline.incr(sequence_key(group))
            pipeline.expire(sequence_key(group), SEQUENCE_TTL_S)  # idle groups' counters go away by themselves
        sequences = [int(value) for value in pipeline.execute()[::2]]
    except Exception:
        logger.exception("numbering %d pushes failed", len(messages))
        return [0] * len(messages)

    async def send_all() -> list[int]:
        layer, sent = get_channel_layer(), []
        for (group, kind, data), sequence in zip(messages, sequences, strict=True):
            try:
                if layer is None:
                    raise RuntimeError("no channel layer: CHANNEL_LAYERS is not configured")
                await layer.group_send(
                    group, {"type": "push", "group": group, "seq": sequence, "kind": kind, "data": data}
                )
                sent.append(sequence)
            except Exception:
                logger.exception("push to %s failed", group)
                sent.append(0)
        return sent

    return async_to_sync(send_all)()


def broadcast(group: str, kind: str, data: dict[str, Any]) -> None:
    """Send after the current transaction commits, so nobody sees a state the database might still roll back."""
    transaction.on_commit(lambda: send_now(group, kind, data))
