"""Dynamic batching for one model version, without a timer on the common path.

Requests that arrive while the replica's event loop is busy (typically: while the model is predicting) are queued
and predicted together in one call once the loop is free. With `wait_s == 0` a lone request is never delayed; a
positive `wait_s` holds a partial batch that long to collect more. Measured on 2 cores, Serve's `@serve.batch`
machinery cost more than it saved for small models; this keeps the overhead to a list append and one callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np


class MicroBatcher:
    def __init__(self, predict: Callable[[np.ndarray], Any], *, max_batch_size: int, wait_s: float) -> None:
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.scheduled: asyncio.Handle | asyncio.TimerHandle | None = None
        self.batches = 0
        self.batched_requests = 0

    async def submit(self, inputs: np.ndarray) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((inputs, future))
        if len(self.pending) >= self.max_batch_size:
            self.reschedule(loop, now=True)
        elif self.scheduled is None:
            self.reschedule(loop, now=self.wait_s <= 0)
        return await future

    def reschedule(self, loop: asyncio.AbstractEventLoop, *, now: bool) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
        self.scheduled = loop.call_soon(self.run) if now else loop.call_later(self.wait_s, self.run)

    def run(self) -> None:
        self.scheduled = None
        batch, self.pending = self.pending[: self.max_batch_size], self.pending[self.max_batch_size :]
        if self.pending:
            self.reschedule(asyncio.get_running_loop(), now=True)
        batch = [(inputs, future) for inputs, future in batch if not future.cancelled()]
        if not batch:
            return
        self.batches += 1
        self.batched_requests += len(batch)
        arrays = [inputs for inputs, _ in batch]
        try:
            outputs = self.predict(np.concatenate(arrays) if len(arrays) > 1 else arrays[0])
        except Exception as exc:  # the whole call failed: every request in it gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        offset = 0
        for inputs, future in batch:
            rows = len(inputs)
            if not future.done():
                future.set_result(outputs if len(batch) == 1 else slice_rows(outputs, offset, rows))
            offset += rows


def slice_rows(outputs: Any, offset: int, rows: int) -> Any:
    if isinstance(outputs, dict):
        return {key: slice_rows(value, offset, rows) for key, value in outputs.items()}
    return np.asarray(outputs)[offset : offset + rows]
