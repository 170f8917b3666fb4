"""The worker's Kafka writer against the real broker: batches that fill up, headers, order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped, unused-ignore]
from kafka import KafkaConsumer, TopicPartition

from streaming.outbox import Outbox

pytestmark = [pytest.mark.kafka]


def _read(bootstrap: str, topic: str, partition: int) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000
    )
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        return list(consumer)
    finally:
        consumer.close()


def test_records_span_many_batches_in_order_with_headers(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("outbox", partitions=3)
    per_partition = 300

    async def send() -> list[int]:
        # Batches of at most 16 KiB: 1 KiB records fill one every 15 or so.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_batch_size=16 * 1024)
        await producer.start()
        try:
            outbox = Outbox(producer)
            assert await outbox.partitions(topic) == [0, 1, 2]
            for i in range(per_partition):
                for p in (0, 2):
                    value = f"{p}:{i}:".encode().ljust(1024, b".")
                    await outbox.add(topic, p, f"k{i}".encode(), value, [("n", str(i).encode())])
            sent = await outbox.submit()
            await asyncio.gather(*(s.future for s in sent))
            assert await outbox.submit() == []  # nothing left open
            return [s.records for s in sent]
        finally:
            await producer.stop()

    batches = asyncio.run(send())
    assert sum(batches) == 2 * per_partition
    assert len(batches) > 2 * per_partition * 1024 // (16 * 1024)  # full batches were submitted
    for p in (0, 2):
        records = _read(kafka_bootstrap, topic, p)
        assert [r.value.split(b":")[:2] for r in records] == [
            [str(p).encode(), str(i).encode()] for i in range(per_partition)
        ]
        assert [dict(r.headers)["n"] for r in records] == [
            str(i).encode() for i in range(per_partition)
        ]
    assert _read(kafka_bootstrap, topic, 1) == []


def test_batches_sent_early_are_returned_by_the_next_submit(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    """`send_open` sends now (the worker does so before asking for alerts' reasons); the next
    `submit` returns those batches with its own, so the batch waits for all of them."""
    topic = new_topic("outbox-early", partitions=1)

    async def send() -> tuple[list[int], bool]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            outbox = Outbox(producer)
            await outbox.add(topic, 0, b"k", b"early")
            await outbox.send_open()
            await outbox.add(topic, 0, b"k", b"late")
            sent = await outbox.submit()
            await asyncio.gather(*(s.future for s in sent))
            return [s.records for s in sent], await outbox.submit() == []
        finally:
            await producer.stop()

    batches, emptied = asyncio.run(send())
    assert batches == [1, 1]
    assert emptied
    assert [r.value for r in _read(kafka_bootstrap, topic, 0)] == [b"early", b"late"]
