"""The alert ledger reads back what the alerts topic holds, from a point in time on (real Kafka)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from kafka import KafkaProducer

from streaming.ledger import AlertLedger

pytestmark = [pytest.mark.kafka]


def test_catch_up_reads_alerts_written_since_a_time(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("alerts", 2)
    now_ms = int(time.time() * 1000)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    # An old alert (an hour ago), then two recent ones in both partitions, and a foreign record.
    producer.send(topic, orjson.dumps({"transaction_id": "old"}), partition=0,
                  timestamp_ms=now_ms - 3_600_000)  # fmt: skip
    producer.send(topic, orjson.dumps({"transaction_id": "t1"}), partition=0, timestamp_ms=now_ms)
    producer.send(topic, orjson.dumps({"transaction_id": "t2"}), partition=1, timestamp_ms=now_ms)
    producer.send(topic, b"not an alert", partition=1, timestamp_ms=now_ms)
    producer.flush()
    producer.close()

    recent = AlertLedger(kafka_bootstrap, topic, margin_s=60)
    assert asyncio.run(recent.catch_up(now_ms)) == 3
    assert "t1" in recent and "t2" in recent and "old" not in recent

    everything = AlertLedger(kafka_bootstrap, topic, margin_s=60)
    asyncio.run(everything.catch_up(0))
    assert all(t in everything for t in ("old", "t1", "t2"))
