"""Synthetic card transactions onto a Kafka topic, in arrival order, at a chosen rate.

Two sources: a generated data set (`fraud data generate`), sent in the order its events reached
the system, or a `LiveGenerator` continuing in event time. Each event is sent as the plain JSON of
`feature_repo.events.Transaction`, keyed by `user_id`; labels and `ingested_at` never leave this
module (they can be written to a side file, to tell later which alerts were real fraud).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # no type information
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped, unused-ignore]

from batch_pipeline.data.live import LABEL_KEYS, LiveGenerator
from feature_repo.events import Transaction
from streaming.outbox import Outbox

TRANSACTION_FIELDS: tuple[str, ...] = tuple(Transaction.model_fields)
# Rows turned into Python dicts at a time: a million-row file never sits in memory as dicts.
CHUNK_ROWS = 10_000
# Pacing looks at the clock every 5 ms worth of events: accurate, without a sleep per event.
BURSTS_PER_SECOND = 200
# Unpaced, batches go out and the progress callback hears about every this many events.
UNPACED_BURST = 1_000
# Users whose partition is remembered (a murmur2 hash in Python costs more than the rest of a send).


class DataSetError(ValueError):
    """A data set that cannot be sent: no transactions file, or columns missing."""


class UnknownTopic(LookupError):
    """The topic to send to does not exist (the broker may create a mistyped one on a send)."""


class EventStream(Iterator[dict[str, Any]]):
    """Events one by one, knowing how many there will be (for a progress bar)."""

    def __init__(self, events: Iterator[dict[str, Any]], total: int) -> None:
        self._events, self.total = events, total

    def __next__(self) -> dict[str, Any]:
        return next(self._events)


@dataclass(frozen=True)
class ProduceSummary:
    """What `produce` sent: events handed to Kafka, seconds until all were acknowledged."""

    sent: int
    seconds: float
    failed: int = 0
    first_error: str | None = None

    @property
    def rate(self) -> float:
        """Events per second, over the whole run."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def events_from_data(path: Path, count: int | None = None) -> EventStream:
    """The transactions of a generated data set, in arrival order.

    Arrival order is (`ingested_at`, `transaction_id`), the order `prepare.py` assumes; a file
    without `ingested_at` is sent by (event time, `transaction_id`).

    Args:
        path: A data set folder (holding `transactions.parquet`) or the parquet file itself.
        count: Send only the first `count` events in that order; None for all.

    Returns:
        Dicts with the Transaction fields and the labels if the file has them, built per chunk.

    Raises:
        DataSetError: If the file is missing or lacks a Transaction field.
    """
    file = path / "transactions.parquet" if path.is_dir() else path
    if not file.is_file():
        raise DataSetError(f"no {file}: pass a folder that `fraud data generate --out` wrote")
    try:
        names = pq.read_schema(file).names
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataSetError(f"{file} is not a readable Parquet file: {exc}") from exc
    missing = [name for name in TRANSACTION_FIELDS if name not in names]
    if missing:
        raise DataSetError(f"{file} lacks Transaction fields: {', '.join(missing)}")
    extra = [name for name in ("ingested_at", *LABEL_KEYS) if name in names]
    table = pq.read_table(file, columns=[*TRANSACTION_FIELDS, *extra])
    order = _arrival_order(table, file)
    if count is not None:
        order = order.slice(0, count)
    sent = table.select([name for name in table.column_names if name != "ingested_at"])
    return EventStream(_chunks(sent, order), len(order))


def _arrival_order(table: pa.Table, file: Path) -> pa.Array:
    if "ingested_at" in table.column_names:
        first = table["ingested_at"]
    elif pa.types.is_timestamp(table["timestamp"].type) and table["timestamp"].type.tz is None:
        raise DataSetError(f"{file}: timestamp has no zone; event times must say their zone")
    else:
        try:
            first = pc.cast(table["timestamp"], pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataSetError(f"{file}: timestamp is not RFC 3339 with a zone: {exc}") from exc
    keys = pa.table({"first": first, "transaction_id": table["transaction_id"]})
    return pc.sort_indices(keys, [("first", "ascending"), ("transaction_id", "ascending")])


def _chunks(table: pa.Table, order: pa.Array) -> Iterator[dict[str, Any]]:
    for lo in range(0, len(order), CHUNK_ROWS):
        yield from table.take(order.slice(lo, CHUNK_ROWS)).to_pylist()


def events_live(
    users: int, seed: int, start: datetime, fraud_boost: float = 1.0, count: int = 10_000
) -> EventStream:
    """`count` events of a `LiveGenerator`, in event-time order from `start`.

    Args:
        users: Card holders of the simulated world.
        seed: Same seed, users and start: same events.
        start: Event time of the first event (timezone-aware).
        fraud_boost: Multiplies the fraud rates (1.0: about 1% of transactions).
        count: How many events.

    Returns:
        Dicts with the Transaction fields plus `is_fraud` and `fraud_pattern`.

    Raises:
        ValueError: If an argument is out of range (checked at once, not on first use).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    generator = LiveGenerator(users, seed, start, fraud_boost)

    def chunks() -> Iterator[dict[str, Any]]:
        for lo in range(0, count, CHUNK_ROWS):
            yield from generator.events(min(CHUNK_ROWS, count - lo))

    return EventStream(chunks(), count)


def encode(event: dict[str, Any]) -> tuple[bytes, bytes]:
    """The Kafka key (user_id, UTF-8) and value (JSON of exactly the Transaction fields)."""
    value = orjson.dumps({name: event[name] for name in TRANSACTION_FIELDS})
    return str(event["user_id"]).encode(), value


def with_labels(events: Iterable[dict[str, Any]], sink: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Pass events through, writing each one's transaction_id and labels (or nulls) to `sink`."""
    for event in events:
        label = {key: event.get(key) for key in ("transaction_id", *LABEL_KEYS)}
        sink.write(orjson.dumps(label, option=orjson.OPT_APPEND_NEWLINE))
        yield event


class _Batches:
    """The events' records in whole Kafka batches (streaming/outbox.py), submitted per burst.

    On the project's 2-core machine kafka-python's per-event send managed 7,000 events/s,
    aiokafka's (a future and a murmur2 hash each) 20,000, filling its batches directly 60,000.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._outbox, self._topic = Outbox(producer), topic
        self._pending: set[asyncio.Future[Any]] = set()
        self.failed = 0
        self.first_error: str | None = None

    async def add(self, key: bytes, value: bytes) -> None:
        partition = await self._outbox.partition_of(self._topic, key)
        await self._outbox.add(self._topic, partition, key, value)

    async def submit_all(self) -> None:
        for future, records in await self._outbox.submit():
            self._pending.add(future)
            future.add_done_callback(functools.partial(self._delivered, records))

    async def drain(self) -> None:
        """Submit what is left and wait until every batch is acknowledged or failed."""
        await self.submit_all()
        if self._pending:
            await asyncio.wait(self._pending)  # returns after the batches' done callbacks ran

    def _delivered(self, records: int, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        error = "cancelled" if future.cancelled() else future.exception()
        if error is not None:
            self.failed += records
            self.first_error = self.first_error or repr(error)


async def send_events(
    events: Iterable[dict[str, Any]],
    producer: AIOKafkaProducer,
    topic: str,
    rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> ProduceSummary:
    """Send events through a started producer at `rate` events/s (0: as fast as possible).

    Paced by a monotonic clock in bursts of 5 ms of events; after a stall (e.g. the live
    generator simulating a new day) it catches up, so the average rate holds.

    Args:
        events: Dicts with the Transaction fields (more keys are left out of the value).
        producer: A started aiokafka producer; left running.
        topic: Where to send.
        rate: Events per second; 0 for unpaced.
        progress: Called with the number of events sent since its last call.

    Returns:
        The count sent, and the seconds from the first send until every event was acknowledged.
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0 events/s, got {rate}")
    burst = max(1, int(rate / BURSTS_PER_SECOND)) if rate > 0 else UNPACED_BURST
    batches = _Batches(producer, topic)
    started = time.monotonic()
    sent = reported = 0
    for event in events:
        await batches.add(*encode(event))
        sent += 1
        if sent % burst:
            continue
        await batches.submit_all()
        if progress is not None:
            progress(sent - reported)
            reported = sent
        if rate:
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    await batches.drain()
    if progress is not None and sent > reported:
        progress(sent - reported)
    return ProduceSummary(sent, time.monotonic() - started, batches.failed, batches.first_error)


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    """A producer for transactions: acknowledged by all replicas, no duplicates on retry."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="fraud-produce",
        acks="all",
        enable_idempotence=True,
        max_batch_size=512 * 1024,
    )


def produce(
    events: Iterable[dict[str, Any]],
    bootstrap: str,
    topic: str,
    rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> ProduceSummary:
    """`send_events` through a new producer for `bootstrap` (e.g. "127.0.0.1:19092"), blocking.

    Raises:
        aiokafka.errors.KafkaError: If the broker cannot be reached or a send times out.
        UnknownTopic: If `topic` does not exist (nothing is sent).
    """

    async def run() -> ProduceSummary:
        producer = new_producer(bootstrap)
        try:  # stop even when start fails, or aiokafka warns of an unclosed producer
            await producer.start()
            # All topics' metadata: asking for the one topic would have the broker create it.
            metadata = await producer.client.fetch_all_metadata()
            if topic not in metadata.topics():
                raise UnknownTopic(
                    f"no topic {topic!r} at {bootstrap}: check --topic, or create it (`fraud "
                    "stack up` creates the stack's topics)"
                )
            return await send_events(events, producer, topic, rate, progress)
        finally:
            await producer.stop()

    return asyncio.run(run())
