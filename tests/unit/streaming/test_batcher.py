"""The worker's batcher: batches by size and linger, in order, acked after processing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streaming.batcher import Batcher


class Event:
    def __init__(self, n: int) -> None:
        self.n = n
        self.acked = False

    def ack(self) -> None:
        self.acked = True


class Recorder:
    """A `process` that remembers its batches and checks nothing was acked before it ran."""

    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.delay_s = delay_s
        self.fail_on = fail_on

    async def __call__(self, batch: Sequence[Any]) -> None:
        assert not any(e.acked for e in batch)
        await asyncio.sleep(self.delay_s)
        if self.fail_on is not None and any(e.n == self.fail_on for e in batch):
            raise RuntimeError(f"bad batch with {self.fail_on}")
        self.batches.append([e.n for e in batch])


def _ack(batch: list[Event]) -> None:
    for event in batch:
        event.ack()


async def _feed(batcher: Batcher, events: list[Event], linger: asyncio.Task[None]) -> None:
    for event in events:
        await batcher.add([event])
    await batcher.drain()
    linger.cancel()


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)


def test_batches_by_size_then_linger_in_order_and_acked() -> None:
    process = Recorder(delay_s=0.01)
    events = [Event(i) for i in range(25)]

    async def run() -> None:
        batcher = Batcher(process, max_size=10, linger_s=0.005, ack=_ack)
        linger = asyncio.ensure_future(batcher.run_linger())
        await batcher.add(events[:3])
        await batcher.add(events[3:24])  # across two batches
        await batcher.add(events[24:])
        await _until(lambda: len(process.batches) == 3)  # the last 5 go when their linger is up
        assert [len(b) for b in process.batches] == [10, 10, 5]
        linger.cancel()

    asyncio.run(run())
    assert [n for b in process.batches for n in b] == list(range(25))
    assert all(e.acked for e in events)


def test_a_failed_batch_is_raised_into_the_stream_and_not_acked() -> None:
    process = Recorder(fail_on=3)
    events = [Event(i) for i in range(20)]

    async def run() -> None:
        batcher = Batcher(process, max_size=5, linger_s=0.005, ack=_ack)
        linger = asyncio.ensure_future(batcher.run_linger())
        await _feed(batcher, events, linger)

    with pytest.raises(RuntimeError, match="bad batch with 3"):
        asyncio.run(run())
    assert not any(e.acked for e in events[:5])


def test_records_waiting_in_the_stream_join_the_batch_before_it_starts() -> None:
    """When the linger is up but the intake holds more records, they are taken in first."""
    process = Recorder()
    source = [Event(i) for i in range(12)]
    taken: list[Event] = []

    async def run() -> None:
        batcher = Batcher(
            process, max_size=100, linger_s=0.2, ack=_ack,
            waiting=lambda: len(source) - len(taken),
        )  # fmt: skip
        linger = asyncio.ensure_future(batcher.run_linger())
        await batcher.add([source[0]])
        taken.append(source[0])
        await asyncio.sleep(0.21)  # the first record's linger is up; 11 still wait
        for event in source[1:]:  # handed over one turn of the loop at a time
            await asyncio.sleep(0)
            taken.append(event)
            await batcher.add([event])
        await _until(lambda: bool(process.batches))
        linger.cancel()

    asyncio.run(run())
    assert process.batches == [list(range(12))]
