"""The worker's Feast I/O against real Redis: its pushes and profile reads are Feast's own.

The worker writes the push source's rows through the online store itself (no pandas frame); the
rows must be what `FeatureStore.push` would have written: the same values and event time under
the same keys, and an older row must not replace a newer one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from deploy.stack import StackSettings
from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.feature_views import ACTIVITY_COLUMNS, ACTIVITY_VIEW, PROFILE_VIEW
from feature_repo.spec import EVENT_FEATURES, FEATURE_NAMES, PROFILE_STORED
from feature_repo.store import apply_definitions, open_store
from predictor.features import values_of
from streaming import feast_io
from streaming.feast_io import FeastIO, activity_columns

pytestmark = [pytest.mark.redis]
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str, stack_settings: StackSettings, tmp_path: Path) -> Iterator[FeatureStore]:
    store = open_store(tmp_path, stack_settings.feast_redis, project=f"t{uuid.uuid4().hex[:8]}")
    apply_definitions(store, tmp_path)
    yield store
    store.teardown()  # type: ignore[no-untyped-call]


def _online(store: FeatureStore, users: list[str]) -> dict[str, list[Any]]:
    return store.get_online_features(
        features=[f"{ACTIVITY_VIEW}:{n}" for n in ACTIVITY_COLUMNS],
        entity_rows=[{"user_id": u} for u in users],
    ).to_dict()


def _stage(io: FeastIO, users: list[str], at: list[datetime], seed: int) -> np.ndarray:
    """Stage one row per user; returns their activity columns as `flush` should write them."""
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 100, size=(len(users), len(FEATURE_NAMES)))
    lat, lon = rng.uniform(-60, 60, len(users)), rng.uniform(-170, 170, len(users))
    ts_us = [int((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6) for t in at]
    io.stage(users, ts_us, activity_columns(features, list(lat), list(lon)))
    cols = [FEATURE_NAMES.index(n) for n in EVENT_FEATURES]
    return np.column_stack([features[:, cols], lat, lon])


def _flush(io: FeastIO, push: bool = False) -> int:
    """`io.flush()` (the timer's), or `io.push()` (a batch's), on a loop of its own."""

    async def flush() -> int:
        try:
            return await (io.push() if push else io.flush())
        finally:
            await io.aclose()

    return asyncio.run(flush())


def test_flush_writes_what_feast_push_writes(store: FeatureStore, redis_url: str) -> None:
    io = FeastIO(store, ttl_s=60, size=100)
    users = [f"user_{i}" for i in range(5)]
    expected = _stage(io, users, [T0 + timedelta(seconds=i) for i in range(5)], seed=1)
    assert _flush(io) == 5
    online = _online(store, users)
    for i, user in enumerate(users):
        got = [online[n][i] for n in ACTIVITY_COLUMNS]
        np.testing.assert_allclose(got, expected[i], rtol=0, atol=0, err_msg=user)

    # The same row through Feast's own push: the same bytes in Redis, key for key.
    frame = pd.DataFrame([dict(zip(ACTIVITY_COLUMNS, expected[0], strict=True))])
    frame.insert(0, "user_id", "user_pushed")
    frame.insert(1, "event_timestamp", pd.Timestamp(T0))
    store.push(PUSH_SOURCE, frame)
    client = Redis.from_url(redis_url)
    try:
        keys = cast(list[Any], client.keys(f"*{store.project}"))  # bytes
        (ours,) = [cast(dict[bytes, bytes], client.hgetall(k)) for k in keys if b"user_0" in k]
        (feasts,) = [client.hgetall(k) for k in keys if b"user_pushed" in k]
    finally:
        client.close()
    assert len(ours) == len(ACTIVITY_COLUMNS) + 1  # the features and the event time
    assert ours == feasts


def test_an_older_row_does_not_replace_a_newer_one(store: FeatureStore) -> None:
    io = FeastIO(store, ttl_s=60, size=100)
    newer = _stage(io, ["u1"], [T0 + timedelta(minutes=5)], seed=2)
    _flush(io)
    _stage(io, ["u1"], [T0], seed=3)
    _flush(io)
    online = _online(store, ["u1"])
    np.testing.assert_allclose([online[n][0] for n in ACTIVITY_COLUMNS], newer[0])


def test_event_times_are_compared_to_the_microsecond_in_one_write(store: FeatureStore) -> None:
    """Rows of one write, each against what Redis holds: only a strictly later event replaces."""
    io = FeastIO(store, ttl_s=60, size=100)
    users, us = ["later", "same", "earlier"], timedelta(microseconds=1)
    held = _stage(io, users, [T0, T0, T0], seed=6)
    _flush(io)
    new = _stage(io, users, [T0 + us, T0, T0 - us], seed=7)
    assert _flush(io) == 3  # staged and sent; Redis decides per row
    online = _online(store, users)
    got = np.array([[online[n][i] for n in ACTIVITY_COLUMNS] for i in range(3)])
    np.testing.assert_allclose(got, [new[0], held[1], held[2]])


def test_a_user_staged_twice_pushes_the_later_event(store: FeatureStore) -> None:
    io = FeastIO(store, ttl_s=60, size=100)
    later = _stage(io, ["u2"], [T0 + timedelta(seconds=30)], seed=4)
    _stage(io, ["u2"], [T0], seed=5)  # arrives after, happened before
    assert _flush(io) == 1
    online = _online(store, ["u2"])
    np.testing.assert_allclose([online[n][0] for n in ACTIVITY_COLUMNS], later[0])


def test_profile_reads_answer_as_feast_online_read(store: FeatureStore, redis_url: str) -> None:
    """`ProfileReader` gives what `values_of(online_read_async(...))` gives, user for user."""
    names = list(PROFILE_STORED)
    rows = [
        {"user_id": "full", **{n: float(i) + 0.25 for i, n in enumerate(names)}},
        {"user_id": "partial", **{n: (None if i == 2 else 1.5) for i, n in enumerate(names)}},
        {"user_id": "integer", **{n: 2.0 for n in names}},
    ]
    frame = pd.DataFrame(rows)
    frame["event_timestamp"] = [pd.Timestamp(T0 + timedelta(microseconds=i * 7)) for i in range(3)]
    view = store.get_feature_view(PROFILE_VIEW)
    store.write_to_online_store(PROFILE_VIEW, frame)
    io = FeastIO(store, ttl_s=60, size=100)
    # A value Feast holds as another type than a double: read through the proto.
    ts_field, fields = io.reader.layout.fields(view, names)
    client = Redis.from_url(redis_url)
    try:
        key, value = io.reader.layout.key("integer"), Value(int64_val=7).SerializeToString()
        client.hset(key, fields[0], value)  # type: ignore[arg-type]  # bytes, as redis-py takes
    finally:
        client.close()
    users = ["full", "partial", "integer", "nobody"]

    async def read() -> tuple[list[Any], list[Any]]:
        try:
            ours = await io.reader.read(users)
            keys = [
                EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=u)]) for u in users
            ]
            # (a copy: Feast appends its timestamp field to the list it is given)
            feasts = await store.provider.online_read_async(store.config, view, keys, list(names))
            return list(ours), [values_of(r, names) for r in feasts]
        finally:
            await io.aclose()

    ours, feasts = asyncio.run(read())
    assert ours == feasts
    assert ours[0][0] is not None and ours[2][0] is not None and ours[2][0][names[0]] == 7.0
    assert ours[1] == (None, None) and ours[3] == (None, None)


def test_a_batch_pushes_its_rows_unless_a_push_just_failed(
    store: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = FeastIO(store, ttl_s=60, size=100)
    _stage(io, ["a", "b"], [T0, T0], seed=6)
    assert _flush(io, push=True) == 2
    calls = 0

    async def refused(*_: object) -> None:
        nonlocal calls
        calls += 1
        raise RedisConnectionError("Redis refused the connection")

    healthy = io.writer.write
    monkeypatch.setattr(io.writer, "write", refused)
    staged = _stage(io, ["c"], [T0], seed=7)
    assert _flush(io, push=True) == 0 and calls == 1  # failed: the row stays staged
    staged = np.vstack([staged, _stage(io, ["d"], [T0], seed=8)])
    assert _flush(io, push=True) == 0 and calls == 1  # paused: batches do not wait on Redis
    assert _flush(io) == 0 and calls == 2  # the timer's retry, failing again
    monkeypatch.setattr(io.writer, "write", healthy)
    assert _flush(io, push=True) == 0  # still paused after the timer's failure
    assert _flush(io) == 2  # the timer's retry pushes both staged rows
    online = _online(store, ["c", "d"])
    got = [[online[n][i] for n in ACTIVITY_COLUMNS] for i in range(2)]
    np.testing.assert_allclose(got, staged, rtol=0, atol=0)
    monkeypatch.setattr(feast_io, "FAILED_PUSH_PAUSE_S", 0.0)
    _stage(io, ["e"], [T0], seed=9)
    assert _flush(io, push=True) == 1  # the pause is over: batches push again


def test_rows_are_staged_until_redis_takes_them(
    store: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`staged` and `is_staged` answer for rows Redis has not taken, those of a push under way
    included (it may fail). Whatever the order of staging, pushing and failing, the row kept is
    the user's latest by event time: a later row staged during a push that fails stays, an
    earlier one staged during a push is ignored, and so is an earlier one restaged."""
    io = FeastIO(store, ttl_s=60, size=100)
    t1 = T0 + timedelta(seconds=1)
    us = [int((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6) for t in (T0, t1)]
    started, release = asyncio.Event(), asyncio.Event()

    async def hanging_then_refused(*_: object) -> None:
        started.set()
        await release.wait()
        raise RedisConnectionError("Redis refused the connection")

    async def scenario() -> np.ndarray:
        try:
            old = _stage(io, ["c"], [T0], seed=10)
            assert io.staged(["c", "x"]) == {"c": (us[0], old[0].tolist())}
            monkeypatch.setattr(io.writer, "write", hanging_then_refused)
            flushing = asyncio.ensure_future(io.flush())
            await started.wait()
            assert io.is_staged("c") and io.staged(["c"]) == {"c": (us[0], old[0].tolist())}
            new = _stage(io, ["c"], [t1], seed=11)  # a later event, staged meanwhile
            release.set()
            assert await flushing == 0
            assert io.staged(["c"]) == {"c": (us[1], new[0].tolist())}
            io.restage({"c": (us[0], old[0].tolist())})  # an older row kept from before
            assert io.staged(["c"]) == {"c": (us[1], new[0].tolist())}
            started.clear()
            release.clear()
            flushing = asyncio.ensure_future(io.flush())  # the later row in flight
            await started.wait()
            _stage(io, ["c"], [T0], seed=12)  # an earlier event, staged meanwhile: ignored
            assert io.staged(["c"]) == {"c": (us[1], new[0].tolist())}
            release.set()
            assert await flushing == 0
            assert io.staged(["c"]) == {"c": (us[1], new[0].tolist())}
            monkeypatch.undo()
            pushes = io.pushes
            assert await io.flush() == 1 and io.pushes == pushes + 1
            assert not io.is_staged("c") and io.staged(["c"]) == {}
            return new
        finally:
            await io.aclose()

    new = asyncio.run(scenario())
    online = _online(store, ["c"])
    assert [online[n][0] for n in ACTIVITY_COLUMNS] == new[0].tolist()  # the later event's
