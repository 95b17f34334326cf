"""A started rollout you can wait for, watch, and command.

`watch()` subscribes to the rollout's websocket first and then reads what was already recorded over REST, so no
event falls between the two; events are told apart by id, so none is shown twice. When the socket cannot be opened
or is cut, it reconnects, and between pushes it re-reads the rollout every `poll_s` seconds: a push lost on the way
(the server sends them best-effort) only delays the end by that much.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import RolloutFailed, StreamError, WaitTimeout
from .streams import open_stream
from .types import Rollout, RolloutEvent, RolloutUpdate, from_api

if TYPE_CHECKING:
    from .client import Client

POLL_S = 5.0
RECONNECT_S = 1.0


class RolloutHandle:
    """`client.rollout(...)` returns one; `client.rollout_handle(id)` makes one for a rollout started elsewhere.
    `rollout` is the latest state known: refreshed by every command, every push watched and every REST read."""

    def __init__(self, client: Client, rollout: Rollout) -> None:
        self.client = client
        self.rollout = rollout

    @property
    def id(self) -> int:
        return self.rollout.id

    def __repr__(self) -> str:
        return f"<RolloutHandle {self.id} {self.rollout.phase} v{self.rollout.from_version}→v{self.rollout.to_version}>"

    def refresh(self) -> Rollout:
        self.rollout = self.client.rollouts.get(self.id)
        return self.rollout

    def pause(self) -> Rollout:
        return self.command("pause")

    def resume(self) -> Rollout:
        return self.command("resume")

    def promote(self) -> Rollout:
        return self.command("promote")

    def abort(self) -> Rollout:
        return self.command("abort")

    def command(self, command: str) -> Rollout:
        self.rollout = self.client.rollouts.command(self.id, command)
        return self.rollout

    def wait(self, timeout: float | None = None, *, poll_s: float = POLL_S) -> Rollout:
        """Block until the rollout ends. Returns it when the candidate was promoted; raises RolloutFailed (with the
        reason the server recorded) when it was rolled back or aborted, WaitTimeout when `timeout` passes first."""
        for _ in self.watch(timeout=timeout, poll_s=poll_s):
            pass
        return self.outcome()

    def outcome(self) -> Rollout:
        """The finished rollout, or RolloutFailed when it did not promote its candidate."""
        if not self.rollout.finished:
            self.refresh()
        if self.rollout.phase in ("failed", "aborted"):
            raise RolloutFailed(self.rollout)
        return self.rollout

    def watch(self, timeout: float | None = None, *, poll_s: float = POLL_S) -> Iterator[RolloutUpdate]:
        """Every event of the rollout, those already recorded first, until it finishes. Raises WaitTimeout when
        `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: set[int] = set()
        failures = 0
        while True:
            try:
                yield from self.follow(seen, deadline, poll_s)
                return
            except StreamError:
                yield from self.catch_up(seen)  # the socket failed: read over REST, then try it again
                if self.rollout.finished:
                    return
                pause = min(poll_s, RECONNECT_S * 2**failures)  # a socket that never opens: REST every poll_s
                failures += 1
                if deadline is not None:
                    pause = min(pause, max(deadline - time.monotonic(), 0))
                time.sleep(pause)
                check_deadline(deadline, self.rollout)

    def follow(self, seen: set[int], deadline: float | None, poll_s: float) -> Iterator[RolloutUpdate]:
        with open_stream(self.client.transport, f"/ws/rollouts/{self.id}/", what=f"rollout {self.id}") as stream:
            last_seq: int | None = None
            yield from self.catch_up(seen)
            while not self.rollout.finished:
                check_deadline(deadline, self.rollout)
                wait_s = poll_s if deadline is None else max(0.05, min(poll_s, deadline - time.monotonic()))
                message = stream.receive(timeout=wait_s)
                if message is None:  # quiet: make sure no push was lost
                    yield from self.catch_up(seen)
                    continue
                if message.get("type") == "hello":
                    last_seq = int(message.get("seq") or 0)
                    continue
                if message.get("type") != "rollout_event":
                    continue
                sequence = message.get("seq")
                if isinstance(sequence, int) and last_seq is not None and sequence > last_seq + 1:
                    yield from self.catch_up(seen)  # something was missed on the way: the record has it
                last_seq = sequence if isinstance(sequence, int) else last_seq
                update = update_from_push(message.get("data") or {})
                if update is None:
                    continue
                self.rollout = replace(
                    self.rollout,
                    phase=update.phase,
                    candidate_weight=update.candidate_weight,
                    stable_weight=update.stable_weight,
                    allowed_commands=update.allowed_commands,
                )
                if update.event.id not in seen:
                    seen.add(update.event.id)
                    yield update
                if update.finished:
                    yield from self.catch_up(seen)  # the final record, with the reason and anything after it

    def catch_up(self, seen: set[int]) -> Iterator[RolloutUpdate]:
        """The recorded events not yet given, with the rollout's current state."""
        rollout = self.refresh()
        for event in rollout.events:
            if event.id in seen:
                continue
            seen.add(event.id)
            yield RolloutUpdate(
                rollout=rollout.id,
                phase=rollout.phase,
                from_version=rollout.from_version,
                to_version=rollout.to_version,
                candidate_weight=rollout.candidate_weight,
                stable_weight=rollout.stable_weight,
                allowed_commands=list(rollout.allowed_commands),
                event=event,
            )


def check_deadline(deadline: float | None, rollout: Rollout) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise WaitTimeout(
            f"rollout {rollout.id} is still {rollout.phase} (candidate at {rollout.candidate_weight}%); it goes on "
            "without you: watch it again with `raylane rollout status --watch`"
        )


def update_from_push(data: dict[str, Any]) -> RolloutUpdate | None:
    """A `rollout_event` push (rollouts.services.record: the rollout's summary and one event)."""
    event = data.get("event")
    if not isinstance(event, dict) or not isinstance(data.get("rollout"), int):
        return None
    return RolloutUpdate(
        rollout=data["rollout"],
        phase=str(data.get("phase", "")),
        from_version=int(data.get("from_version") or 0),
        to_version=int(data.get("to_version") or 0),
        candidate_weight=int(data.get("candidate_weight") or 0),
        stable_weight=int(data["stable_weight"]) if data.get("stable_weight") is not None else 100,
        allowed_commands=list(data.get("allowed_commands") or []),
        event=from_api(RolloutEvent, {**event, "actor_username": event.get("actor", "")}, rollout=data["rollout"]),
    )
