"""`fraud produce` and `fraud alerts tail` against the real broker, each on its own topics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from batch_pipeline.data.generate import generate
from deploy.cli import app
from feature_repo.events import Transaction
from streaming.produce import events_live, produce
from streaming.tail import InvalidRecord, tail
from tests.conftest import unique

pytestmark = [pytest.mark.kafka]

runner = CliRunner()
START = datetime(2026, 11, 1, 8, tzinfo=UTC)


def _read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=15_000
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = []
    for record in consumer:
        records.append(record)
        if len(records) == count:
            break
    consumer.close()
    return records


def _alert(i: int, **changes: Any) -> dict[str, Any]:
    alert = {
        "alert_id": f"al_{i}", "transaction_id": f"tx_{i:016x}", "user_id": f"user_{i}",
        "score": 0.9 + i / 100, "threshold": 0.5, "model_name": "fraud-mlp",
        "model_version": "3", "event_timestamp": "2026-11-01T09:00:00+01:00",
        "scored_at": "2026-11-01T08:00:00.2+00:00", "degraded": False,
        "reasons": [{"feature": "amount", "value": 912.37, "contribution": 0.4}],
    }  # fmt: skip
    return alert | changes


def _send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()


def test_live_events_arrive_paced_keyed_and_in_order_per_user(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("tx", partitions=3)
    events = list(events_live(users=40, seed=5, start=START, fraud_boost=10, count=3000))
    ticks: list[int] = []

    summary = produce(iter(events), kafka_bootstrap, topic, rate=3000, progress=ticks.append)

    assert (summary.sent, summary.failed, sum(ticks)) == (3000, 0, 3000)
    assert summary.seconds >= 0.95  # unpaced, 3,000 events take a fraction of a second
    assert summary.seconds < 3.0
    records = _read_all(kafka_bootstrap, topic, 3000)
    assert len(records) == 3000
    partition_of: dict[bytes, set[int]] = {}
    got: dict[bytes, list[str]] = {}
    for record in records:
        Transaction.model_validate_json(record.value)
        assert "is_fraud" not in orjson.loads(record.value)
        partition_of.setdefault(record.key, set()).add(record.partition)
        got.setdefault(record.key, []).append(orjson.loads(record.value)["transaction_id"])
    expected: dict[bytes, list[str]] = {}
    for event in events:
        expected.setdefault(event["user_id"].encode(), []).append(event["transaction_id"])
    assert got == expected
    assert all(len(partitions) == 1 for partitions in partition_of.values())


def test_cli_sends_a_data_set_and_writes_its_labels(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = new_topic("tx-data", partitions=1)
    generate(users=30, days=3, seed=9, out=tmp_path / "raw", start=date(2026, 9, 1), progress=False)
    table = pq.read_table(tmp_path / "raw" / "transactions.parquet")
    arrival = table.take(
        pc.sort_indices(table, [("ingested_at", "ascending"), ("transaction_id", "ascending")])
    )["transaction_id"].to_pylist()
    labels = tmp_path / "labels.jsonl"

    result = runner.invoke(
        app,
        ["produce", "--data", str(tmp_path / "raw"), "--rate", "0", "--no-progress",
         "--bootstrap", kafka_bootstrap, "--topic", topic, "--labels-out", str(labels)],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"sent {len(arrival)} to {topic}" in result.output
    records = _read_all(kafka_bootstrap, topic, len(arrival))
    assert [orjson.loads(r.value)["transaction_id"] for r in records] == arrival
    written = [orjson.loads(line) for line in labels.read_bytes().splitlines()]
    assert [w["transaction_id"] for w in written] == arrival
    assert {w["is_fraud"] for w in written} <= {True, False}


def test_tail_hands_over_alerts_and_skips_a_broken_record(
    kafka_bootstrap: str, new_topic: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    topic = new_topic("alerts")
    alerts = [_alert(0), _alert(1, reasons=[]), _alert(2, degraded=True)]
    _send(
        kafka_bootstrap,
        topic,
        [orjson.dumps(alerts[0]), b"{not json", *map(orjson.dumps, alerts[1:])],
    )
    got: list[dict[str, Any]] = []
    bad: list[InvalidRecord] = []

    summary = tail(
        kafka_bootstrap, topic, from_beginning=True, max_alerts=3, idle_timeout_s=20,
        on_alert=got.append, on_invalid=bad.append,
    )  # fmt: skip

    assert (summary.alerts, summary.invalid, summary.stopped) == (3, 1, "max_alerts")
    assert got == alerts
    assert [(b.partition, b.offset) for b in bad] == [(0, 1)]
    with caplog.at_level(logging.WARNING, logger="streaming.tail"):
        again = tail(
            kafka_bootstrap, topic, from_beginning=True, idle_timeout_s=1.0, on_alert=got.append
        )
    assert (again.alerts, again.stopped) == (3, "idle")
    assert "partition=0 offset=1" in caplog.text


def test_tail_from_the_end_sees_only_new_alerts(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("alerts-new")
    _send(kafka_bootstrap, topic, [orjson.dumps(_alert(0))])
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    got: list[dict[str, Any]] = []
    watcher = threading.Thread(
        target=tail,
        args=(consumer, topic),
        kwargs={"max_alerts": 1, "idle_timeout_s": 20, "on_alert": got.append},
    )
    watcher.start()
    deadline = time.monotonic() + 15
    while not consumer.assignment() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the tail resolves its position right after assigning
    _send(kafka_bootstrap, topic, [orjson.dumps(_alert(1))])
    watcher.join(timeout=30)
    consumer.close()
    assert [a["alert_id"] for a in got] == ["al_1"]


def test_cli_tail_prints_lines_or_json(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    topic = new_topic("alerts-cli")
    alerts = [_alert(0), _alert(1, degraded=True)]
    _send(kafka_bootstrap, topic, [b"[1, 2]", *map(orjson.dumps, alerts)])
    base = ["alerts", "tail", "--from-beginning", "--max", "2", "--timeout", "20"]
    where = ["--bootstrap", kafka_bootstrap, "--topic", topic]

    as_json = runner.invoke(app, [*base, "--json", *where])
    lines = runner.invoke(app, [*base, *where])

    assert as_json.exit_code == 0, as_json.output
    assert [orjson.loads(line) for line in as_json.stdout.splitlines()] == alerts
    assert "offset=0" in as_json.stderr
    assert lines.exit_code == 0, lines.output
    printed = lines.stdout.splitlines()
    assert len(printed) == 2
    assert "user_1" in printed[1] and "DEGRADED" in printed[1] and "DEGRADED" not in printed[0]
    assert "score 0.900 ≥ 0.500" in printed[0] and "amount=912.37" in printed[0]


def test_cli_refuses_a_topic_that_does_not_exist(kafka_bootstrap: str) -> None:
    """A mistyped --topic: nothing is sent, and the broker (which creates a topic a producer
    asks for) is not asked for it, so no one-partition topic of that name appears."""
    from kafka.admin import KafkaAdminClient

    topic = unique("no-such-topic")
    args = ["produce", "--live", "--users", "100", "--count", "5", "--rate", "0",
            "--bootstrap", kafka_bootstrap, "--topic", topic, "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"no topic '{topic}'" in " ".join(result.output.split())
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="tests")
    try:
        assert topic not in admin.list_topics()
    finally:
        admin.close()
