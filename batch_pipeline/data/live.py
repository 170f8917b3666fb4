"""A never-ending stream of synthetic transactions in event-time order, for a live producer.

The same world and the same vectorised simulation as the batch data set (`generate.py`), one day
of world time at a time: each day is simulated for all users at once, sorted by event time, and
handed out in order. Events carry `is_fraud` and `fraud_pattern` besides the Transaction fields;
a producer strips them before sending (they are the labels, not part of the event).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from batch_pipeline.data.events import DAY, Events, Window
from batch_pipeline.data.fraud import simulate
from batch_pipeline.data.generate import CHUNK_USERS
from batch_pipeline.data.records import transaction_ids, transactions_table
from batch_pipeline.data.world import STREAM_LIVE, build_world, make_rng

logger = logging.getLogger(__name__)

# Transaction ids apart from the batch data set's (whose namespaces are chunk numbers), so a live
# run never repeats an id of a batch file made with the same seed.
_LIVE_NAMESPACE = 1 << 23
LABEL_KEYS = ("is_fraud", "fraud_pattern")


class LiveGenerator:
    """Transactions continuing in event time from `start`, one simulated day at a time.

    Args:
        users: Number of card holders (at least 1).
        seed: Same seed, users and start: same events, in the same order.
        start: Event time of the stream's beginning (timezone-aware); the first event is at or
            after it.
        fraud_boost: Multiplies the fraud incident rates (1.0: about 1% of transactions), e.g.
            10 to see alerts quickly in a demo.

    Raises:
        ValueError: If an argument is out of range.
    """

    def __init__(self, users: int, seed: int, start: datetime, fraud_boost: float = 1.0) -> None:
        if users < 1:
            raise ValueError(f"users must be at least 1, got {users}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware, e.g. datetime.now(UTC)")
        if not fraud_boost >= 0:
            raise ValueError(f"fraud_boost must be >= 0, got {fraud_boost}")
        self._world = build_world(users, seed, start.astimezone(UTC).date())
        self._seed = seed
        self._boost = fraud_boost
        self._start_s = math.ceil(start.timestamp())
        self._day = 0
        self._pending: list[dict[str, Any]] = []
        self._position = 0

    @property
    def days_simulated(self) -> int:
        """How many days of world time have been simulated so far."""
        return self._day

    def events(self, count: int) -> list[dict[str, Any]]:
        """The next `count` events in event-time order.

        Args:
            count: How many events to return (>= 0).

        Returns:
            Dicts with every Transaction field (timestamp as an RFC 3339 string with the local
            offset) plus `is_fraud` and `fraud_pattern`.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        while len(self._pending) - self._position < count:
            self._simulate_next_day()
        batch = self._pending[self._position : self._position + count]
        self._position += count
        return batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Events one by one, for ever."""
        while True:
            if self._position == len(self._pending):
                self._simulate_next_day()
                continue
            self._position += 1
            yield self._pending[self._position - 1]

    def _simulate_next_day(self) -> None:
        world, window = self._world, Window(self._start_s + self._day * DAY, 1)
        parts = [
            simulate(
                world,
                range(lo, min(lo + CHUNK_USERS, world.users)),
                window,
                make_rng(self._seed, STREAM_LIVE, self._day, chunk),
                self._boost,
            )
            for chunk, lo in enumerate(range(0, world.users, CHUNK_USERS))
        ]
        events = Events.concat(parts)
        ids = transaction_ids(self._seed, _LIVE_NAMESPACE + self._day, len(events))
        order = np.lexsort((ids, events.ts))
        table = transactions_table(world, events.take(order), ids[order], ingested_us=None)
        self._pending = self._pending[self._position :] + table.to_pylist()
        self._position = 0
        self._day += 1
        logger.debug("simulated day=%d events=%d", self._day, len(events))


SEARCH_CHUNK = 50_000  # events held at once while looking for a stream's last event time
SEARCH_TRIES = 8


def _chunks(
    users: int, seed: int, start: datetime, count: int, fraud_boost: float
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The first `count` events from `start`, `SEARCH_CHUNK` at a time, with their first index."""
    generator = LiveGenerator(users, seed, start, fraud_boost)
    for lo in range(0, count, SEARCH_CHUNK):
        yield lo, generator.events(min(SEARCH_CHUNK, count - lo))


def last_event_time(
    users: int, seed: int, start: datetime, count: int, fraud_boost: float = 1.0
) -> datetime | None:
    """The event time of the last of the first `count` events from `start` (None if count is 0)."""
    last: dict[str, Any] | None = None
    for _, chunk in _chunks(users, seed, start, count, fraud_boost):
        last = chunk[-1]
    return None if last is None else datetime.fromisoformat(last["timestamp"])


def most_ahead(
    users: int,
    seed: int,
    start: datetime,
    count: int,
    fraud_boost: float,
    sent_from: datetime,
    rate: float,
) -> tuple[int, datetime, timedelta] | None:
    """The event furthest ahead of its sending, when the first `count` events from `start` are
    sent from `sent_from` at `rate` events/s (0: all at once).

    Returns:
        Its index, its event time and how far that is after its send time (negative: behind
        it); None if count is 0.
    """
    best: tuple[int, datetime, timedelta] | None = None
    for lo, chunk in _chunks(users, seed, start, count, fraud_boost):
        for i, event in enumerate(chunk, lo):
            moment = datetime.fromisoformat(event["timestamp"])
            lead = moment - sent_from - timedelta(seconds=i / rate if rate else 0.0)
            if best is None or lead > best[2]:
                best = (i, moment, lead)
    return best


def start_ending_by(
    users: int, seed: int, count: int, end: datetime, fraud_boost: float = 1.0
) -> datetime:
    """A start from which `count` events of `LiveGenerator(users, seed, start, fraud_boost)` all
    happen at or before `end`, and the last of them shortly before it.

    A live stream is simulated much faster than real time (a small world's day passes in
    seconds), so one that starts now soon runs ahead of the clock, and the stream worker refuses
    an event more than `feature_repo.spec.MAX_AHEAD_OF_ARRIVAL` ahead of its arrival. Placed to
    end by now, it is a recent history sent at the given rate, every event behind its arrival.

    Raises:
        ValueError: If no start within a few tries ends by `end` (the world, built for the
            start's date, differs a little between tries).
    """
    start = end
    for _ in range(SEARCH_TRIES):
        last = last_event_time(users, seed, start, count, fraud_boost)
        if last is None or last <= end:
            return start
        start -= last - end + timedelta(minutes=1)
    raise ValueError(f"found no start whose {count} events end by {end.isoformat()}")
