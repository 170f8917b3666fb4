"""Both Kafka clients the project uses, against the real broker: groups, commits, resumption."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.kafka


def _consume_kafka_python(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
        max_poll_records=count,
    )
    got: list[bytes] = []
    for record in consumer:
        got.append(record.value)
        if len(got) == count:
            break
    consumer.commit()
    consumer.close()
    return got


def test_kafka_python_group_commits_and_resumes(
    kafka_bootstrap: str, new_topic: Callable[..., str], group_id: str
) -> None:
    topic = new_topic("kp", partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(10):
        producer.send(topic, key=f"user_{i % 3}".encode(), value=f"event-{i}".encode())
    producer.flush()

    first = _consume_kafka_python(kafka_bootstrap, topic, group_id, 6)
    # A new consumer in the same group starts after the committed offsets: no repeats, no gaps.
    rest = _consume_kafka_python(kafka_bootstrap, topic, group_id, 4)

    assert len(first) == 6
    assert sorted(first + rest) == sorted(f"event-{i}".encode() for i in range(10))
    producer.close()


def test_same_key_lands_on_same_partition(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("keys", partitions=4)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    partitions = {
        producer.send(topic, key=b"user_42", value=str(i).encode()).get(timeout=10).partition
        for i in range(20)
    }
    producer.close()
    assert len(partitions) == 1


async def _aio_round(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        while len(got) < count:
            batch = await asyncio.wait_for(
                consumer.getmany(timeout_ms=1000, max_records=count - len(got)), 20
            )
            for records in batch.values():
                got.extend(r.value for r in records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


def test_aiokafka_group_commits_and_resumes(
    kafka_bootstrap: str, new_topic: Callable[..., str], group_id: str
) -> None:
    topic = new_topic("aio", partitions=2)

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(12):
                await producer.send_and_wait(
                    topic, key=f"u{i % 4}".encode(), value=f"e{i}".encode()
                )
        finally:
            await producer.stop()
        first = await _aio_round(kafka_bootstrap, topic, group_id, 5)
        rest = await _aio_round(kafka_bootstrap, topic, group_id, 7)
        return first, rest

    first, rest = asyncio.run(scenario())
    assert len(first) == 5
    assert sorted(first + rest) == sorted(f"e{i}".encode() for i in range(12))
