"""Online feature reads: each view's answer per user, the TTL cache, bounded retries."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from feast.protos.feast.types.Value_pb2 import Value
from redis.exceptions import ConnectionError as RedisConnectionError

from feature_repo.feature_views import ACTIVITY_COLUMNS, ACTIVITY_VIEW, PROFILE_VIEW
from feature_repo.spec import PROFILE_STORED
from predictor.errors import FeaturesUnavailable
from predictor.features import OnlineFeatures, values_of

PROFILE_AT = datetime(2026, 9, 18, 2, tzinfo=UTC)
ACTIVITY_AT = datetime(2026, 9, 18, 11, 30, tzinfo=UTC)


class FakeProvider:
    """Answers like Redis: `full` has both views, `noprofile` only activity, others nothing."""

    def __init__(self, failures: int) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.failures = failures

    async def online_read_async(
        self, config: Any, table: Any, keys: list[Any], names: list[str]
    ) -> list[Any]:
        users = [k.entity_values[0].string_val for k in keys]
        self.calls.append((table.name, users))
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("connection refused")
        holders = {"full"} if table.name == PROFILE_VIEW else {"full", "noprofile"}
        at = PROFILE_AT if table.name == PROFILE_VIEW else ACTIVITY_AT
        return [
            (at, {n: Value(double_val=2.5) for n in names})
            if u in holders
            else (datetime.fromtimestamp(0, UTC), {n: Value() for n in names})
            for u in users
        ]


def _online(ttl_s: float = 60, size: int = 10, attempts: int = 1, failures: int = 0) -> Any:
    store = SimpleNamespace(provider=FakeProvider(failures), config=None)
    views = {
        "profile_view": SimpleNamespace(name=PROFILE_VIEW, ttl=timedelta(days=2)),
        "activity_view": SimpleNamespace(name=ACTIVITY_VIEW, ttl=timedelta(days=30)),
    }
    return OnlineFeatures(store, ttl_s, size, attempts, **views), store.provider


def test_values_of_a_read() -> None:
    names = ["a", "b"]
    full = (PROFILE_AT, {"a": Value(double_val=1.5), "b": Value(int64_val=3)})
    assert values_of(full, names) == ({"a": 1.5, "b": 3.0}, PROFILE_AT.timestamp())
    partial = (PROFILE_AT, {"a": Value(double_val=1.5), "b": Value()})
    assert values_of(partial, names) == (None, None)  # a made-up feature is worse than none
    assert values_of((None, None), names) == (None, None)


def test_one_read_per_view_for_all_misses_then_the_cache() -> None:
    online, provider = _online(size=2)
    rows = asyncio.run(online.lookup(["full", "noprofile", "full", "ghost"]))
    assert provider.calls == [
        (PROFILE_VIEW, ["full", "noprofile", "ghost"]),
        (ACTIVITY_VIEW, ["full", "noprofile", "ghost"]),
    ]
    assert rows["full"].profile == dict.fromkeys(PROFILE_STORED, 2.5)
    assert rows["full"].activity == dict.fromkeys(ACTIVITY_COLUMNS, 2.5)
    assert (rows["full"].profile_at_s, rows["full"].activity_at_s) == (
        PROFILE_AT.timestamp(), ACTIVITY_AT.timestamp(),
    )  # fmt: skip
    assert rows["noprofile"].profile is None and rows["noprofile"].activity is not None
    assert rows["ghost"].activity is None and rows["ghost"].profile is None
    assert online.profile_ttl_s == 2 * 86400

    asyncio.run(online.lookup(["ghost", "full"]))
    assert provider.calls[2:] == [(PROFILE_VIEW, ["full"]), (ACTIVITY_VIEW, ["full"])]  # evicted


def test_no_cache_with_ttl_zero() -> None:
    online, provider = _online(ttl_s=0)
    asyncio.run(online.lookup(["full"]))
    asyncio.run(online.lookup(["full"]))
    assert len(provider.calls) == 4


def test_redis_errors_are_retried_then_unavailable() -> None:
    online, provider = _online(ttl_s=0, attempts=3, failures=2)
    assert asyncio.run(online.lookup(["full"]))["full"].profile is not None
    down, _ = _online(ttl_s=0, attempts=2, failures=10)
    with pytest.raises(FeaturesUnavailable, match="did not answer after 2 attempts"):
        asyncio.run(down.lookup(["full"]))


def test_expired_rows_are_dropped_not_kept_until_evicted() -> None:
    online, provider = _online(ttl_s=0.05, size=100)
    asyncio.run(online.lookup(["full", "noprofile"]))
    time.sleep(0.06)
    asyncio.run(online.lookup(["ghost"]))
    assert list(online._cache) == ["ghost"]
    assert provider.calls[-1] == (ACTIVITY_VIEW, ["ghost"])
