"""Batches of records by size or linger time, the next one filling while the last is scored.

The intake keeps feeding the buffer while one batch is in flight (scoring is mostly waiting, on
the predictor and on Kafka's acknowledgements), so the next batch is what arrived meanwhile, not
one linger period's worth. Batches are processed one at a time, in order, so a user's events are
applied in partition order. Records are acknowledged (their offsets become committable) only
after their batch is fully written: a crash repeats work, never skips it.

A failure in processing is re-raised into the agent, which stops the worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Process = Callable[[Sequence[Any]], Awaitable[None]]
Ack = Callable[[list[Any]], None]


class Batcher:
    """Collects records and runs `process` on batches of them, one batch at a time."""

    def __init__(
        self, process: Process, max_size: int, linger_s: float, ack: Ack,
        waiting: Callable[[], int] = lambda: 0,
    ) -> None:  # fmt: skip
        self.process = process
        self.max_size = max_size
        self.linger_s = linger_s
        self.ack = ack  # called with each batch once it is processed
        self.waiting = waiting  # > 0: records received but not yet added (the intake's queue)
        self._buffer: list[Any] = []
        self._first_at = 0.0
        self._inflight: asyncio.Task[None] | None = None

    async def add(self, records: Sequence[Any]) -> None:
        """Buffer records; start a batch whenever the buffer is full (waiting for the last one)."""
        rest = list(records)
        while rest:
            if not self._buffer:
                self._first_at = time.monotonic()
            room = self.max_size - len(self._buffer)
            self._buffer.extend(rest[:room])
            rest = rest[room:]
            if len(self._buffer) >= self.max_size:
                await self._wait_inflight()  # back-pressure: one batch in flight, one filling
                if self._buffer:  # (the linger task may have started it meanwhile)
                    self._start()
        self._raise_if_failed()

    async def run_linger(self) -> None:
        """Forever: start a batch once its first event has waited `linger_s` and none is running."""
        while True:
            self._raise_if_failed()
            if self._buffer and (self._inflight is None or self._inflight.done()):
                wait = self._first_at + self.linger_s - time.monotonic()
                if wait <= 0 and len(self._buffer) < self.max_size and self.waiting():
                    # More records have arrived than the stream has handed over yet (it had no
                    # turn while the last batch was scored): take them first, up to a second
                    # linger, rather than score a batch of a few records and leave the rest.
                    if wait > -self.linger_s:
                        await asyncio.sleep(0)
                        continue
                if wait <= 0:
                    self._start()
                    continue
                await asyncio.sleep(wait)
            else:
                await asyncio.sleep(self.linger_s / 4)

    async def drain(self) -> None:
        """Process whatever is buffered and wait for it."""
        await self._wait_inflight()
        if self._buffer:
            self._start()
            await self._wait_inflight()

    def _start(self) -> None:
        batch, self._buffer = self._buffer, []
        self._inflight = asyncio.ensure_future(self._run(batch, self._inflight))

    async def _run(self, batch: list[Any], previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous  # batches strictly in order, whoever started them
        await self.process(batch)
        self.ack(batch)

    async def _wait_inflight(self) -> None:
        if self._inflight is not None:
            await self._inflight  # re-raises a processing failure

    def _raise_if_failed(self) -> None:
        task = self._inflight
        if task is not None and task.done() and not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]
