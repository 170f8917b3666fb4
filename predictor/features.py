"""Online features from Feast: a user's profile and latest activity, with a short TTL cache.

The two views are read with the store's provider (`FeatureStore.provider.online_read_async`, the
interface every Feast online store implements): one Redis pipeline per view, both in flight at
once, without blocking the server's event loop. That returns each row's event timestamp and
skips `get_online_features`' generic response building, which costs as much again as the Redis
round trips for one user. A user's row is reused for `feature_cache_ttl_s`: the stream pushes
activity continuously, so the cache is kept short and only saves the repeated lookups of a burst.
Redis errors and timeouts are retried a bounded number of times, then answered 503
(`FeaturesUnavailable`): a missing dependency is not the client's fault.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from redis.exceptions import RedisError

from feature_repo.feature_views import ACTIVITY_COLUMNS, ACTIVITY_VIEW, PROFILE_VIEW
from feature_repo.spec import PROFILE_STORED
from predictor.errors import FeaturesUnavailable
from predictor.metrics import FEAST_LOOKUP, FEATURE_CACHE

log = logging.getLogger(__name__)

FEATURE_REFS = [
    *(f"{PROFILE_VIEW}:{n}" for n in PROFILE_STORED),
    *(f"{ACTIVITY_VIEW}:{n}" for n in ACTIVITY_COLUMNS),
]
LOOKUP_TIMEOUT_S = 1.0
RETRY_PAUSE_S = 0.02
Read = tuple[datetime | None, dict[str, Any] | None]  # what an online store returns per key


@dataclass(frozen=True)
class OnlineRow:
    """What the online store holds for one user; a view without data is None."""

    user_id: str
    profile: dict[str, float] | None
    profile_at_s: float | None  # when the profile snapshot became available (epoch seconds)
    activity: dict[str, float] | None
    activity_at_s: float | None  # event time of the user's latest transaction (epoch seconds)


def values_of(read: Read, names: Sequence[str]) -> tuple[dict[str, float] | None, float | None]:
    """Floats and timestamp of one view's read; None when any value is missing.

    A partial row is as good as none: the missing features would be made up.
    """
    timestamp, protos = read
    if not protos:
        return None, None
    values = {}
    for name in names:
        proto = protos.get(name)
        kind = proto.WhichOneof("val") if proto is not None else None
        if kind is None or kind == "null_val":
            return None, None
        values[name] = float(getattr(proto, kind))
    return values, timestamp.timestamp() if timestamp else None


class OnlineFeatures:
    """Reads users' online rows through a Feast store, caching each for a short while."""

    def __init__(
        self, store: Any, ttl_s: float, size: int, attempts: int, *, profile_view: Any = None,
        activity_view: Any = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.ttl_s = ttl_s
        self.size = size
        self.attempts = attempts
        self.profile_view = profile_view or store.get_feature_view(PROFILE_VIEW)
        self.activity_view = activity_view or store.get_feature_view(ACTIVITY_VIEW)
        # The profile's TTL is the point-in-time rule of training: serving applies it too.
        ttl = self.profile_view.ttl
        self.profile_ttl_s = ttl.total_seconds() if ttl else float("inf")
        # The activity's TTL: how long the `{"user_id"}` path may re-score a user's latest event.
        ttl = self.activity_view.ttl
        self.activity_ttl_s = ttl.total_seconds() if ttl else float("inf")
        self._cache: OrderedDict[str, tuple[float, OnlineRow]] = OrderedDict()

    @classmethod
    def open(
        cls, data_dir: Path, redis_connection: str, project: str, *, ttl_s: float, size: int,
        attempts: int,
    ) -> OnlineFeatures:  # fmt: skip
        """Open the Feast store whose registry is `data_dir/registry.db`, and check its views.

        Raises:
            FeaturesUnavailable: no registry there, or it lacks this project's feature views.
        """
        from feature_repo.store import open_store

        if not (data_dir / "registry.db").exists():
            raise FeaturesUnavailable(
                f"{data_dir} has no Feast registry.db: run `fraud features apply` (or pass "
                "--feature-data)"
            )
        store = open_store(data_dir, redis_connection, project)
        try:
            return cls(store, ttl_s, size, attempts)
        except Exception as exc:  # feast raises its own not-found types per object kind
            raise FeaturesUnavailable(
                f"Feast project {project!r} in {data_dir} lacks the feature views: {exc}"
            ) from exc

    async def lookup(self, user_ids: Sequence[str]) -> dict[str, OnlineRow]:
        """The online rows of these users (one read per view for all cache misses)."""
        now = time.monotonic()
        found: dict[str, OnlineRow] = {}
        missing: list[str] = []
        for user in dict.fromkeys(user_ids):
            cached = self._cache.get(user)
            if cached is not None and now - cached[0] < self.ttl_s:
                found[user] = cached[1]
            else:
                missing.append(user)
        if found:
            FEATURE_CACHE.labels("hit").inc(len(found))
        if missing:
            FEATURE_CACHE.labels("miss").inc(len(missing))
            for row in await self._read(missing):
                found[row.user_id] = row
                if self.ttl_s > 0:
                    self._remember(now, row)
        return found

    async def _read(self, user_ids: list[str]) -> list[OnlineRow]:
        keys = [
            EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=u)]) for u in user_ids
        ]
        provider, config = self.store.provider, self.store.config
        profile_names, activity_names = list(PROFILE_STORED), list(ACTIVITY_COLUMNS)
        started = time.perf_counter()
        for attempt in range(1, self.attempts + 1):
            try:
                async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                    profiles, activities = await asyncio.gather(
                        provider.online_read_async(config, self.profile_view, keys, profile_names),
                        provider.online_read_async(
                            config, self.activity_view, keys, activity_names
                        ),
                    )
                break
            except (RedisError, OSError, TimeoutError) as exc:
                if attempt == self.attempts:
                    log.error("online feature read failed attempts=%d error=%r", attempt, exc)
                    raise FeaturesUnavailable(
                        f"the online feature store did not answer after {attempt} attempts: {exc!r}"
                    ) from exc
                await asyncio.sleep(RETRY_PAUSE_S * attempt)
        FEAST_LOOKUP.observe(time.perf_counter() - started)
        rows = []
        for user, profile_read, activity_read in zip(user_ids, profiles, activities, strict=True):
            profile, profile_at = values_of(profile_read, PROFILE_STORED)
            activity, activity_at = values_of(activity_read, ACTIVITY_COLUMNS)
            rows.append(OnlineRow(user, profile, profile_at, activity, activity_at))
        return rows

    def _remember(self, now: float, row: OnlineRow) -> None:
        # Entries are kept in the order they were read, so expired ones are at the front: drop
        # them, to hold only what can still be used (and keep the garbage collector's work small).
        cache = self._cache
        cache[row.user_id] = (now, row)
        cache.move_to_end(row.user_id)
        while cache and (
            len(cache) > self.size or now - next(iter(cache.values()))[0] >= self.ttl_s
        ):
            cache.popitem(last=False)
