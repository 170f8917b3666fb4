"""The stream worker end to end: real Kafka, Redis (Feast), predictor and `fraud stream worker`s.

A Spark-prepared history is produced in arrival order with poison records mixed in; every
transaction must get exactly one score record whose features are Spark's, the alerts must be
exactly the scores at or above the threshold (once each), and every poison record must reach the
DLQ with its reason. Then the predictor is stopped mid-stream (degraded scoring, then normal), and
a second worker joins and leaves (no loss, no repeated alert, state follows the partitions).
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from batch_pipeline.data.live import start_ending_by
from deploy.stack.redis import RedisService
from deploy.stack.settings import StackSettings
from feature_repo.replay import replay
from feature_repo.spec import EVENT_FEATURES
from streaming.app import PENDING_TABLE
from streaming.produce import encode, events_from_data, events_live, produce
from streaming.records import alert_id
from tests.integration.conftest import PreparedWorld
from tests.integration.stream_harness import (
    StreamTopics,
    WorkerProcess,
    make_topics,
    read_all,
    read_topic,
    values,
    where_unscored,
)
from tests.unit.predictor.harness import FeastWorld, PredictorProcess, feast_world, free_port
from tests.unit.predictor.onnx_models import write_model

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.spark, pytest.mark.slow]


@dataclass(frozen=True)
class Env:
    predictor: PredictorProcess
    workdir: Path
    kafka: str

    def worker(self, name: str, topics: StreamTopics, app_id: str, **extra: str) -> WorkerProcess:
        env = {
            **topics.env(),
            "FRAUD_STREAM_APP_ID": app_id,
            "FRAUD_STREAM_KAFKA_BOOTSTRAP": self.kafka,
            "FRAUD_STREAM_PREDICTOR_URL": self.predictor.url,
            "FRAUD_STREAM_DATA_DIR": str(self.workdir / f"{app_id}-{name}"),
            "FRAUD_STREAM_FEATURE_DATA": "",
            "FRAUD_STREAM_BREAKER_RESET_S": "1",
            **extra,
        }
        return WorkerProcess(env, self.workdir / f"{app_id}-{name}.log")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("stream")
    model = write_model(workdir / "model.onnx", "7")
    predictor = PredictorProcess(
        ["--model-uri", str(model), "--no-features"], workdir / "predictor.log"
    ).start()
    yield Env(predictor, workdir, kafka_bootstrap)
    predictor.stop()


def _poison(events: list[dict[str, Any]]) -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, expected kind) of every kind of bad record."""
    key, first = encode(events[0])
    good = {**orjson.loads(first), "transaction_id": "poison-base"}

    def bad(**change: Any) -> bytes:
        return orjson.dumps({**good, **change})

    missing = {k: v for k, v in good.items() if k != "amount"}
    return [
        (key, b"{not json", "not_json"),
        (key, b"\xff\xfe\x00garbage", "not_utf8"),
        (key, b"[1, 2, 3]", "not_object"),
        (key, orjson.dumps(missing), "invalid"),
        (key, bad(amount="lots"), "invalid"),
        (key, bad(amount=-5.0), "invalid"),
        (key, bad(amount=1e12), "invalid"),
        (key, bad(latitude=123.0), "invalid"),
        (key, bad(timestamp="yesterday"), "invalid"),
        (key, bad(timestamp="9999-12-31T23:59:59Z"), "ahead_of_arrival"),  # a wrong clock
        (key, bad(surprise=1), "invalid"),
        (key, bad(note="x" * 20_000), "oversized"),
        # As large as Kafka takes: with its headers the dead letter would not be (it is cut).
        (key, b"x" * 1_048_400, "oversized"),
        (b"k" * 600_000, bad(transaction_id="poison-long-key"), "oversized"),
        (key, bad(amount="12.5"), "invalid"),  # numbers are strict
        (b"someone-else", bad(transaction_id="poison-key"), "wrong_key"),
        (*encode(events[-1]), "duplicate"),  # the latest transaction, sent again
    ]


AFTER_POISON = "after-the-poison"


def _after(events: list[dict[str, Any]], user: str, transaction_id: str) -> tuple[bytes, bytes]:
    """(key, value) of a new transaction of `user`, a minute after the user's latest one."""
    mine = [e for e in events if e["user_id"] == user]
    latest = max(datetime.fromisoformat(e["timestamp"]) for e in mine)
    moment = (latest.replace(microsecond=0) + timedelta(minutes=1)).astimezone(UTC)
    return encode({**mine[-1], "transaction_id": transaction_id, "timestamp": moment.isoformat()})


def _send(kafka: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka, acks="all")
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def test_history_scored_once_with_spark_features_alerts_and_dlq(
    env: Env, prepared_world: PreparedWorld, new_topic: Callable[..., str], redis_url: str
) -> None:
    topics = make_topics(new_topic)
    world = feast_world(prepared_world.out, env.workdir, StackSettings().feast_redis)
    worker = env.worker(
        "a", topics, f"e2e-{topics.transactions}",
        FRAUD_STREAM_FEATURE_DATA=str(world.data), FRAUD_STREAM_FEAST_PROJECT=world.project,
        FRAUD_STREAM_REDIS_CONNECTION=world.redis_connection,
    ).start()  # fmt: skip
    try:
        events = list(events_from_data(prepared_world.raw))
        produce(events, env.kafka, topics.transactions)
        poison = _poison(events)
        # The poisoned user's next transaction is scored: the one dated 9999 did not become the
        # user's latest event time (which made every later event of the user too late).
        after = _after(events, events[0]["user_id"], AFTER_POISON)
        _send(env.kafka, topics.transactions, [(k, v) for k, v, _ in poison] + [after])

        spark = pd.read_parquet(prepared_world.out / "transaction_features")
        rejected = pd.read_parquet(prepared_world.out / "rejected")
        too_late = set(rejected["transaction_id"])
        expected_dlq = len(too_late) + len(poison)
        scored = len(spark) + 1  # and AFTER_POISON
        scores = values(read_topic(env.kafka, topics.scores, lambda r: len(r) >= scored))
        dlq = read_topic(env.kafka, topics.dlq, lambda r: len(r) >= expected_dlq)
        time.sleep(3)  # anything extra (a repeat) would arrive now
        scores = values(read_all(env.kafka, topics.scores))
        alerts = values(read_all(env.kafka, topics.alerts))
        # The worker pushed activity rows while it ran, at least as many as the history has
        # users, without a failure.
        pushed = worker.metric("fraud_stream_feast_pushed_rows_total")
        errors = worker.metric("fraud_stream_feast_errors_total", 'operation="push"')
    finally:
        worker.stop()
    assert pushed >= spark["user_id"].nunique() and not errors, (pushed, errors)

    # Exactly one score record per accepted transaction, none for the rejected.
    counts = Counter(s["transaction_id"] for s in scores)
    assert set(counts) == {*spark["transaction_id"], AFTER_POISON}, worker.log()[-3000:]
    assert max(counts.values()) == 1
    # Features equal Spark's for every transaction (profile features are not in Spark's table).
    ours = pd.DataFrame([{"transaction_id": s["transaction_id"], **s["features"]} for s in scores])
    merged = spark.merge(ours, on="transaction_id", suffixes=("_spark", "_stream"))
    assert len(merged) == len(spark)
    for name in EVENT_FEATURES:
        np.testing.assert_allclose(
            merged[f"{name}_stream"], merged[f"{name}_spark"], rtol=1e-9, atol=1e-9, err_msg=name
        )
    # Alerts: exactly the scores at or above the threshold, once each, with deterministic ids.
    flagged = {s["transaction_id"] for s in scores if s["score"] >= s["threshold"]}
    assert flagged, "the test model flags some of this history"
    assert sorted(a["transaction_id"] for a in alerts) == sorted(flagged)
    assert all(a["alert_id"] == alert_id(a["transaction_id"]) for a in alerts)
    assert all(a["reasons"] and not a["degraded"] for a in alerts)
    # Dead letters: the original bytes, where they came from, and why.
    kinds = Counter(dict(r.headers)["dlq.kind"].decode() for r in dlq)
    assert kinds["too_late"] == len(too_late)
    assert kinds - Counter({"too_late": len(too_late)}) == Counter(k for _, _, k in poison)
    originals = {v for _, v, _ in poison}
    for record in dlq:
        headers = dict(record.headers)
        assert headers["dlq.reason"] and int(headers["dlq.offset"]) >= 0
        assert headers["dlq.topic"].decode() == topics.transactions
        if "dlq.truncated" in headers:
            assert len(record.value) > 900_000 and record.value == b"x" * len(record.value)
            assert headers["dlq.truncated"].startswith(b"key ")
        elif headers["dlq.kind"] != b"too_late":
            assert record.value in originals
    assert sum("dlq.truncated" in dict(r.headers) for r in dlq) == 1
    reasons: dict[str, list[str]] = {}
    for record in dlq:
        headers = dict(record.headers)
        reasons.setdefault(headers["dlq.kind"].decode(), []).append(headers["dlq.reason"].decode())
    for field in ("amount", "latitude", "timestamp", "surprise"):
        assert any(r.startswith(f"{field}:") for r in reasons["invalid"]), (field, reasons)
    assert any("required field is missing" in r for r in reasons["invalid"])
    assert "key each record by its user_id" in reasons["wrong_key"][0]
    assert "too late" in reasons["too_late"][0] and "already applied" in reasons["duplicate"][0]
    assert "ahead of the record's timestamp" in reasons["ahead_of_arrival"][0]


def _committed_to_end(kafka: str, group: str, topic: str, timeout_s: float = 60) -> None:
    """Until the group's committed offsets are the topic's end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.committed(tp) != ends[tp] for tp in tps):
            assert time.monotonic() < deadline, {tp: consumer.committed(tp) for tp in tps}
            time.sleep(0.5)
    finally:
        consumer.close()


def test_committed_records_have_their_feast_rows_even_after_a_kill(
    env: Env, prepared_world: PreparedWorld, new_topic: Callable[..., str]
) -> None:
    """A record's offset is committed only once Redis has its user's activity row, so a worker
    killed mid-stream loses no row: what it committed was pushed, and the rest comes again.

    Half the users' events are scored and committed first; Redis must hold their rows with the
    retry timer idle. Then the other half's events come, the worker is killed (SIGKILL) while it
    scores them, and a new one carries on from the committed offsets and the stored states.
    """
    from feature_repo.store import open_store

    topics = make_topics(new_topic)
    app_id = f"rows-{topics.transactions}"
    world = feast_world(prepared_world.out, env.workdir, StackSettings().feast_redis)
    feast_env = _feast_env(world, push_interval_s=3600)  # no timer pushes: only the batches' own
    events = _live(6000, seed=11)
    first, second = _halves(events)
    store = open_store(world.data, world.redis_connection, world.project)
    worker = env.worker("a", topics, app_id, **feast_env).start()
    try:
        produce(first, env.kafka, topics.transactions)
        _scored(env.kafka, topics.scores, {e["transaction_id"] for e in first})
        _committed_to_end(env.kafka, app_id, topics.transactions)
        first_users = sorted({e["user_id"] for e in first})
        committed = _online(store, first_users)
        produce(second, env.kafka, topics.transactions)
        deadline = time.monotonic() + 60
        while worker.metric("fraud_stream_events_total", 'outcome="scored"') < len(first) + 500:
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.05)
        worker.stop(signal.SIGKILL)
        worker.start()
        scores = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in events})
        _committed_to_end(env.kafka, app_id, topics.transactions)
        users = sorted({e["user_id"] for e in events})
        rows = _online(store, users)
    finally:
        worker.stop()
    expected = _latest_rows(events, scores)
    for user, got in zip(first_users, committed, strict=True):
        assert got == pytest.approx(expected[user], rel=1e-12), ("committed", user)
    for user, got in zip(users, rows, strict=True):
        assert got == pytest.approx(expected[user], rel=1e-12), ("after the kill", user)


def test_rows_that_redis_did_not_take_survive_a_kill(
    env: Env, prepared_world: PreparedWorld, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    """While Redis hangs, batches go on with their rows staged for the retry task; a worker
    killed before Redis is back loses none of them: they are kept in the pending rows' table, and
    its successor (another data folder, so it recovers the tables from their changelogs) pushes
    them once Redis answers.

    Redis is a server of the test's own, stopped (SIGSTOP) after the first half's rows are in it.
    """
    from feature_repo.store import open_store

    redis = RedisService(StackSettings(stack_dir=tmp_path / "stack", redis_port=free_port()))
    assert redis.up() == "started", redis.process.log_file.read_text()[-2000:]
    try:
        topics = make_topics(new_topic)
        app_id = f"pending-{topics.transactions}"
        port = redis.settings.redis_port
        world = feast_world(prepared_world.out, env.workdir, f"127.0.0.1:{port},db=0")
        feast_env = _feast_env(world, push_interval_s=0.5)
        events = _live(3000, seed=12)
        first, second = _halves(events)
        second_users = sorted({e["user_id"] for e in second})
        store = open_store(world.data, world.redis_connection, world.project)
        worker = env.worker("a", topics, app_id, **feast_env).start()
        successor = env.worker("b", topics, app_id, **feast_env)
        try:
            produce(first, env.kafka, topics.transactions)
            _scored(env.kafka, topics.scores, {e["transaction_id"] for e in first})
            _committed_to_end(env.kafka, app_id, topics.transactions)
            pid = redis.process.pid()
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            try:
                produce(second, env.kafka, topics.transactions)
                scores = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in events})
                _committed_to_end(env.kafka, app_id, topics.transactions)
                assert worker.metric("fraud_stream_feast_errors_total", 'operation="push"') >= 1
                assert worker.metric("fraud_stream_feast_unpushed_rows") == len(second_users)
                worker.stop(signal.SIGKILL)
            finally:
                os.kill(pid, signal.SIGCONT)
            successor.start()
            expected = _latest_rows(events, scores)
            users = sorted(expected)
            deadline = time.monotonic() + 60
            while True:
                got = list(itertools.chain(*_online(store, users)))
                if got == pytest.approx([x for u in users for x in expected[u]], rel=1e-12):
                    break
                assert time.monotonic() < deadline, successor.log()[-3000:]
                time.sleep(0.5)
            # The successor pushed the killed worker's staged rows: one per user of the second
            # half, whose every push failed (none of them had scored before).
            assert f"rows restaged: {len(second_users)} " in successor.log()
            # Redis has them now: the next batch deletes their entries (a tombstone each).
            later = _live(50, seed=13)
            produce(later, env.kafka, topics.transactions)

            def deleted(records: list[Any]) -> bool:
                last = {r.key: r.value for r in records}
                return len(last) == len(second_users) and all(v is None for v in last.values())

            changelog = f"{app_id}-{PENDING_TABLE}-changelog"
            assert deleted(read_topic(env.kafka, changelog, deleted, 60)), successor.log()[-3000:]
            assert successor.metric("fraud_stream_feast_unpushed_rows") == 0
        finally:
            worker.stop()
            successor.stop()
    finally:
        redis.down()


def _feast_env(world: FeastWorld, push_interval_s: float) -> dict[str, str]:
    """A worker's settings for the Feast store of `world` (its Redis, its project)."""
    return {
        "FRAUD_STREAM_FEATURE_DATA": str(world.data),
        "FRAUD_STREAM_FEAST_PROJECT": world.project,
        "FRAUD_STREAM_REDIS_CONNECTION": world.redis_connection,
        "FRAUD_STREAM_PUSH_INTERVAL_S": str(push_interval_s),
    }


def _halves(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The events of the even-numbered users, and those of the odd-numbered ones."""
    even = [e for e in events if int(e["user_id"].removeprefix("user_")) % 2 == 0]
    return even, [e for e in events if int(e["user_id"].removeprefix("user_")) % 2 == 1]


def _online(store: Any, users: list[str]) -> list[list[Any]]:
    """Each user's activity row in Feast's online store (`ACTIVITY_COLUMNS`, None if absent)."""
    from feature_repo.feature_views import ACTIVITY_COLUMNS, ACTIVITY_VIEW

    rows = store.get_online_features(
        features=[f"{ACTIVITY_VIEW}:{n}" for n in ACTIVITY_COLUMNS],
        entity_rows=[{"user_id": u} for u in users],
    ).to_dict()
    return [[rows[n][i] for n in ACTIVITY_COLUMNS] for i in range(len(users))]


def _latest_rows(events: list[dict[str, Any]], scores: dict[str, Any]) -> dict[str, list[float]]:
    """Each user's activity row as it must be: that of their latest event by event time (its
    features, from its score record, and its place)."""
    from feature_repo.feature_views import ACTIVITY_COLUMNS

    by_time = sorted(events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    latest = {e["user_id"]: e for e in by_time}
    return {
        user: [
            *(scores[e["transaction_id"]]["features"][n] for n in ACTIVITY_COLUMNS[:-2]),
            e["latitude"],
            e["longitude"],
        ]
        for user, e in latest.items()
    }


def _live(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` events of a 300-user world, ending now (the worker refuses events ahead of their
    arrival, and the world's time runs much faster than the clock)."""
    start = start_ending_by(300, seed, count, datetime.now(UTC), fraud_boost=5.0)
    return list(events_live(users=300, seed=seed, start=start, fraud_boost=5.0, count=count))


def _scored(kafka: str, topic: str, ids: set[str], timeout_s: float = 120) -> dict[str, Any]:
    records = read_topic(
        kafka, topic, lambda r: ids <= {orjson.loads(x.value)["transaction_id"] for x in r},
        timeout_s,
    )  # fmt: skip
    return {v["transaction_id"]: v for v in values(records) if v["transaction_id"] in ids}


def test_predictor_outage_degrades_then_recovers(env: Env, new_topic: Callable[..., str]) -> None:
    """Also: a restarted worker carries on from its state (local store and changelog)."""
    topics = make_topics(new_topic)
    # Batches of 50, so the 300 events of the outage are several failed batches: the breaker
    # opens after `breaker_failures` of them in a row (a whole fetch would be one batch).
    worker = env.worker(
        "a", topics, f"outage-{topics.transactions}", FRAUD_STREAM_BATCH_MAX="50"
    ).start()
    events = _live(1200, seed=5)
    phases = [events[:300], events[300:600], events[600:900], events[900:]]
    try:
        produce(phases[0], env.kafka, topics.transactions)
        before = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in phases[0]})
        env.predictor.stop()
        produce(phases[1], env.kafka, topics.transactions)
        during = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in phases[1]})
        assert worker.metric("fraud_stream_predictor_breaker_open") == 1
        env.predictor.start()
        time.sleep(1.5)  # the breaker lets a trial batch through after 1 s
        produce(phases[2], env.kafka, topics.transactions)
        after = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in phases[2]})
        worker.stop()
        worker.start()
        produce(phases[3], env.kafka, topics.transactions)
        restarted = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in phases[3]})
    finally:
        worker.stop()
        if env.predictor.process is None or env.predictor.process.poll() is not None:
            env.predictor.start()  # for the tests after this one
    assert len(before) == len(during) == len(after) == 300, worker.log()[-3000:]
    assert not any(s["degraded"] for s in before.values())
    assert all(s["degraded"] and s["model_name"] == "rules" for s in during.values())
    last = [after[e["transaction_id"]] for e in phases[2][-100:]]
    assert not any(s["degraded"] for s in last), "scoring returns to the model"
    assert {s["model_version"] for s in last} == {"7"}
    # After the restart every user's state went on from where it was: features as one process
    # applying all the events in order computes them.
    assert len(restarted) == 300
    _assert_features_as_replayed(events, {**before, **during, **after, **restarted})


def _assert_features_as_replayed(events: list[dict[str, Any]], scores: dict[str, Any]) -> None:
    """Every event's activity features are those one process applying all events in order
    computes."""
    expected, rejected = replay(events)
    assert rejected.empty
    for row in expected.itertuples(index=False):
        got = scores[row.transaction_id]["features"]
        for name in EVENT_FEATURES:
            assert got[name] == pytest.approx(getattr(row, name), rel=1e-9, abs=1e-9), name


@pytest.mark.timeout(600)
def test_second_worker_joins_and_leaves_without_loss_or_repeat(
    env: Env, new_topic: Callable[..., str]
) -> None:
    """The second worker joins under a steady stream and leaves while both are behind a burst.

    Leaving while behind is the hard case for the first worker's revocation: Faust clears the
    queues of fetched records and waits until every record it tracks is acknowledged or gone.
    A fetch the worker still referenced once made that wait endless, so the first worker was
    evicted from the group and its partitions stalled.
    """
    topics = make_topics(new_topic)
    app_id = f"pair-{topics.transactions}"
    first = env.worker("a", topics, app_id).start()
    second = env.worker("b", topics, app_id)
    pending = iter(_live(60_000, seed=9))
    sent: list[dict[str, Any]] = []
    stop, bursts, burst_sent = threading.Event(), queue.Queue[int](), threading.Event()

    def traffic() -> None:  # 100 events/s until told to stop, and bursts when asked for
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=env.kafka, acks="all", linger_ms=5)

        def send(raw: dict[str, Any]) -> None:
            key, value = encode(raw)
            producer.send(topics.transactions, key=key, value=value)
            sent.append(raw)

        for raw in pending:
            if stop.is_set():
                break
            send(raw)
            try:
                burst = bursts.get_nowait()
            except queue.Empty:
                time.sleep(0.01)
                continue
            producer.flush()  # then the burst at once (60,000 events/s): the users' order holds
            burst_events = list(itertools.islice(pending, burst))
            produce(burst_events, env.kafka, topics.transactions)
            sent.extend(burst_events)
            burst_sent.set()
        producer.flush()
        producer.close()

    sender = threading.Thread(target=traffic, daemon=True)
    try:
        sender.start()
        second.start()  # joins while traffic flows: a rebalance moves half the partitions to it
        deadline = time.monotonic() + 120
        while second.metric("fraud_stream_events_total", 'outcome="scored"') < 200:
            assert time.monotonic() < deadline, second.log()[-3000:]
            time.sleep(0.5)
        bursts.put(30_000)
        assert burst_sent.wait(60), "the burst was not sent"
        second.stop()  # leaves: its partitions and their state go back to the first worker
        time.sleep(10)
    finally:
        stop.set()
        sender.join(timeout=60)
        events = list(sent)
        try:
            scores = _scored(env.kafka, topics.scores, {e["transaction_id"] for e in events}, 240)
            alerts = values(read_all(env.kafka, topics.alerts))
            dead = read_all(env.kafka, topics.dlq)
        finally:
            second.stop()
            first.stop()
    assert len(events) > 31_000
    # Records processed again after a rebalance are skipped as replays, not dead-lettered.
    assert not dead, Counter(dict(r.headers)["dlq.kind"] for r in dead)
    logs = f"first:\n{first.log()[-4000:]}\nsecond:\n{second.log()[-2000:]}"
    unscored = {e["transaction_id"] for e in events} - set(scores)
    where = where_unscored(env.kafka, topics.transactions, app_id, unscored) if unscored else ""
    assert not unscored, (len(unscored), where, logs)
    assert len(scores) == len(events)
    # The first worker took part in the rebalances (it was not evicted for missing one) and
    # had every partition back after the second left.
    assigned = [line for line in first.log().splitlines() if "partitions assigned" in line]
    assert "member_id was not recognized" not in first.log(), logs
    assert assigned and "transactions=[0, 1, 2, 3]" in assigned[-1], logs
    repeated = [t for t, n in Counter(a["transaction_id"] for a in alerts).items() if n > 1]
    assert not repeated
    assert {a["transaction_id"] for a in alerts} == {
        t for t, s in scores.items() if s["score"] >= s["threshold"]
    }
    # The state moved with the partitions: every event's activity features are those of its
    # user's whole history, as one process applying the events in order computes them.
    _assert_features_as_replayed(events, scores)
