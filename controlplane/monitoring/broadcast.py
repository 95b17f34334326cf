"""The one way anything is pushed to browsers (AWX style): groups named `<resource>-<id>`, a sequence number per
group so a client can tell it missed something, and sending only after the transaction that caused it commits."""

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
    try:
        pipeline = redis_client().pipeline()
        pipeline.incr(sequence_key(group))
        pipeline.expire(sequence_key(group), SEQUENCE_TTL_S)  # idle groups' counters go away by themselves
        sequence = int(pipeline.execute()[0])
        async_to_sync(get_channel_layer().group_send)(
            group, {"type": "push", "group": group, "seq": sequence, "kind": kind, "data": data}
        )
        return sequence
    except Exception:
        logger.exception("push to %s failed", group)
        return 0


def broadcast(group: str, kind: str, data: dict[str, Any]) -> None:
    """Send after the current transaction commits, so nobody sees a state the database might still roll back."""
    transaction.on_commit(lambda: send_now(group, kind, data))
