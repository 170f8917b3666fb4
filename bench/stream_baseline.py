"""The design the stream worker replaces, for `bench/stream_bench.py`: one event at a time.

Per event, in one plain Python process and in this order: decode and validate the record, one
Feast online read of the user's profile (`get_online_features`), the shared feature code
(`UserActivityState` per user in a dict, `event_features`, `to_matrix`), one JSON v2 request of
one row to the predictor (httpx, keep-alive), one Feast push of the event's activity row, and one
score record (the worker's format) to Kafka. Nothing is batched, cached or concurrent, so every
round trip is paid per event; the worker's design pays them per batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from feature_repo.activity import Duplicate, TooLate, UserActivityState
from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.events import Transaction
from feature_repo.feature_views import ACTIVITY_COLUMNS, PROFILE_VIEW
from feature_repo.spec import EVENT_FEATURES, FEATURE_NAMES, PROFILE_STORED
from feature_repo.vectors import event_features, to_matrix
from predictor.artifact import INPUT_NAME, OUTPUT_NAME
from streaming.decode import Rejected, decode
from streaming.records import Scored, score_record

MODEL = "fraud-detector"
MAX_EVENT_BYTES = 16_384
STAGES = ("decode", "feast_read", "features", "predict", "feast_push", "produce")


@dataclass
class BaselineResult:
    """What the per-event loop did: events scored, its wall time, mean ms per event per stage."""

    events: int = 0
    seconds: float = 0.0
    rejected: int = 0
    with_profile: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        stages = ", ".join(
            f"{k} {v / max(self.events, 1) * 1000:.2f}" for k, v in self.stage_s.items()
        )
        return (
            f"{self.events:,} events in {self.seconds:.1f} s, {self.rejected} rejected, "
            f"{self.with_profile / max(self.events, 1):.1%} with a profile; mean ms per event: "
            f"{stages}"
        )


class PerEventScorer:
    """Scores one event at a time with a round trip per dependency."""

    def __init__(self, store: Any, predictor_url: str, producer: KafkaProducer, sink: str) -> None:
        self.store = store
        self.endpoint = f"{predictor_url}/v2/models/{MODEL}/infer"
        self.http = httpx.Client(timeout=5.0)
        self.producer = producer
        self.sink = sink
        self.features = [f"{PROFILE_VIEW}:{name}" for name in PROFILE_STORED]
        self.states: dict[str, UserActivityState] = {}

    def warm_up(self) -> None:
        """One of each round trip, so that the registry load and first connections are not timed."""
        self.read_profile("user_0")
        self.predict([0.0] * len(FEATURE_NAMES))
        row = dict.fromkeys(ACTIVITY_COLUMNS, 0.0)
        self.push("bench-warm-up", 0, row)

    def read_profile(self, user: str) -> dict[str, float] | None:
        found = self.store.get_online_features(
            features=self.features, entity_rows=[{"user_id": user}]
        ).to_dict()
        values = {name: found[name][0] for name in PROFILE_STORED}
        if any(v is None for v in values.values()):
            return None
        return {k: float(v) for k, v in values.items()}

    def predict(self, row: list[float]) -> tuple[float, str, float]:
        """Score, model version and threshold of one row."""
        tensor = {"name": INPUT_NAME, "shape": [1, len(row)], "datatype": "FP32", "data": row}
        response = self.http.post(self.endpoint, json={"inputs": [tensor]})
        response.raise_for_status()
        body = response.json()
        output = next(o for o in body["outputs"] if o["name"] == OUTPUT_NAME)
        return (
            float(output["data"][0]),
            str(body["model_version"]),
            float(body["parameters"]["threshold"]),
        )

    def push(self, user: str, ts_us: int, values: dict[str, float]) -> None:
        frame = pd.DataFrame([{name: values[name] for name in ACTIVITY_COLUMNS}])
        frame.insert(0, "user_id", [user])
        frame.insert(1, "event_timestamp", pd.to_datetime([ts_us], unit="us", utc=True))
        self.store.push(PUSH_SOURCE, frame)

    def score(self, record: Any, result: BaselineResult) -> None:
        """Everything for one Kafka record, each stage's time added to `result`."""
        spent = result.stage_s
        t0 = time.perf_counter()
        event = decode(record.key, record.value, MAX_EVENT_BYTES)
        t1 = time.perf_counter()
        spent["decode"] += t1 - t0
        if isinstance(event, Rejected):
            result.rejected += 1
            return
        profile = self.read_profile(event.user_id)
        t2 = time.perf_counter()
        spent["feast_read"] += t2 - t1
        state = self.states.setdefault(event.user_id, UserActivityState())
        try:
            activity = state.apply(
                transaction_id=event.transaction_id, ts_us=event.epoch_us, amount=event.amount,
                latitude=event.latitude, longitude=event.longitude, merchant_id=event.merchant_id,
            )  # fmt: skip
        except (TooLate, Duplicate):
            result.rejected += 1
            return
        features = event_features(event, activity, profile)
        row = to_matrix([features])[0].tolist()
        t3 = time.perf_counter()
        spent["features"] += t3 - t2
        score, version, threshold = self.predict(row)
        t4 = time.perf_counter()
        spent["predict"] += t4 - t3
        self.push(event.user_id, event.epoch_us, _activity_row(event, features))
        t5 = time.perf_counter()
        spent["feast_push"] += t5 - t4
        self._emit(record, event, features, score, version, threshold, t0, t3, t5)
        spent["produce"] += time.perf_counter() - t5
        result.events += 1
        result.with_profile += profile is not None

    def _emit(
        self, record: Any, event: Transaction, features: dict[str, float], score: float,
        version: str, threshold: float, started: float, featured: float, scored: float,
    ) -> None:  # fmt: skip
        scored_record = Scored(
            event=event, partition=record.partition, offset=record.offset, score=score,
            threshold=threshold, model_name=MODEL, model_version=version, degraded=False,
            features=[features[n] for n in FEATURE_NAMES], scored_at_s=time.time(),
            timings_ms={
                "ingest_to_batch": round(time.time() * 1000 - record.timestamp, 3),
                "features": round((featured - started) * 1000, 3),
                "scoring": round((scored - featured) * 1000, 3),
            },
        )  # fmt: skip
        self.producer.send(self.sink, key=event.user_id.encode(), value=score_record(scored_record))


def _activity_row(event: Transaction, features: dict[str, float]) -> dict[str, float]:
    row = {name: features[name] for name in EVENT_FEATURES}
    return {**row, "latitude": event.latitude, "longitude": event.longitude}


def run_baseline(
    store: Any, bootstrap: str, source: str, sink: str, predictor_url: str, count: int,
    progress: Callable[[int], None] | None = None, timeout_s: float = 3600.0,
) -> BaselineResult:  # fmt: skip
    """Consume `count` events of `source` from its beginning and score them one by one.

    The clock runs from the first record taken to the last score record acknowledged by Kafka.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    scorer = PerEventScorer(store, predictor_url, producer, sink)
    result = BaselineResult()
    try:
        scorer.warm_up()
        partitions = consumer.partitions_for_topic(source) or set()
        consumer.assign([TopicPartition(source, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        started: float | None = None
        deadline = time.monotonic() + timeout_s
        taken = 0
        while taken < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=100).values():
                for record in batch:
                    if taken == count:
                        break
                    started = started or time.perf_counter()
                    scorer.score(record, result)
                    taken += 1
                    if progress is not None:
                        progress(1)
        producer.flush()
        result.seconds = time.perf_counter() - (started or time.perf_counter())
    finally:
        scorer.http.close()
        producer.close()
        consumer.close()
    return result
