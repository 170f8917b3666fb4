"""The stream bench's latency floor (`bench/relay.py`) against the real broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from bench.relay import RelayProcess, RoundTrips
from streaming.produce import events_live, produce
from tests.integration.stream_harness import read_all, read_topic
from tests.unit.predictor.harness import PredictorProcess
from tests.unit.predictor.onnx_models import write_model


def test_the_relay_copies_every_record_once_to_its_partition(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    source, sink = new_topic("relay-in", partitions=3), new_topic("relay-out", partitions=3)
    events = list(events_live(200, 3, datetime(2026, 5, 1, tzinfo=UTC), count=60))
    with RelayProcess(kafka_bootstrap, source, sink, tmp_path / "relay.log"):
        assert produce(events, kafka_bootstrap, source, rate=200.0).sent == 60
        read_topic(kafka_bootstrap, sink, lambda got: len(got) >= 60, timeout_s=60)
    copied, originals = read_all(kafka_bootstrap, sink), read_all(kafka_bootstrap, source)
    by_id = {orjson.loads(r.value)["transaction_id"]: r for r in originals}
    ids = [orjson.loads(r.value)["transaction_id"] for r in copied]
    assert sorted(ids) == sorted(e["transaction_id"] for e in events)  # each once
    for record in copied:
        original = by_id[orjson.loads(record.value)["transaction_id"]]
        assert (record.key, record.value) == (original.key, original.value)
        assert record.partition == original.partition
        assert record.timestamp >= original.timestamp


def test_with_round_trips_it_asks_the_predictor_and_writes_each_record_twice(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    source, sink = new_topic("relay-in", partitions=2), new_topic("relay-out", partitions=2)
    second = new_topic("relay-second", partitions=2)
    events = list(events_live(100, 4, datetime(2026, 5, 1, tzinfo=UTC), count=40))
    model = write_model(tmp_path / "model" / "model.onnx", "1")
    predictor = PredictorProcess(
        ["--model-uri", str(model), "--no-features"], tmp_path / "predictor.log"
    ).start()
    try:
        trips = RoundTrips(predictor.url, second)
        with RelayProcess(kafka_bootstrap, source, sink, tmp_path / "relay.log", trips):
            produce(events, kafka_bootstrap, source, rate=200.0)
            for topic in (sink, second):
                read_topic(kafka_bootstrap, topic, lambda got: len(got) >= 40, timeout_s=60)
        rows = httpx.get(predictor.url + "/metrics", timeout=5).text
    finally:
        predictor.stop()
    wanted = sorted(e["transaction_id"] for e in events)
    for records in (read_all(kafka_bootstrap, sink), read_all(kafka_bootstrap, second)):
        assert sorted(orjson.loads(r.value)["transaction_id"] for r in records) == wanted
    scored = [line for line in rows.splitlines() if line.startswith("fraud_predictor_rows_total")]
    assert scored == ['fraud_predictor_rows_total{protocol="v2"} 40.0'], scored


def test_a_relay_that_cannot_reach_kafka_says_so(tmp_path: Path) -> None:
    log = tmp_path / "relay.log"
    with pytest.raises(RuntimeError, match="the relay did not start"):
        with RelayProcess("127.0.0.1:1", "nowhere", "nowhere-out", log):
            pass
    assert "KafkaConnectionError" in log.read_text()
