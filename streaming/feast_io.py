"""The worker's two uses of Feast: profile reads (cached) and activity pushes (batched).

Profiles are daily snapshots, so a user's profile is read from the online store once and reused
for `ttl_s`; a batch's cache misses are one Redis pipeline (the provider's `online_read_async`,
as the predictor reads). A profile scores an event only if it had become available by the event's
time and is not older than the view's TTL: the point-in-time rule of the training set.

Activity rows go to the push source in bulk: the stream keeps, per user, the row of the latest
transaction by event time, and `flush()` pushes them all at once every `push_interval_s`. The
online view holds one row per user, so a write per event would only overwrite itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from redis.exceptions import RedisError

from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.feature_views import ACTIVITY_COLUMNS, PROFILE_VIEW
from feature_repo.spec import EVENT_FEATURES, FEATURE_NAMES, PROFILE_STORED
from predictor.features import values_of
from streaming.metrics import FEAST_ERRORS, FEAST_PUSH, FEAST_ROWS, PROFILE_CACHE

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 1.0
_EVENT_COLS = [FEATURE_NAMES.index(n) for n in EVENT_FEATURES]
Profile = dict[str, float]


class FeastIO:
    """Profile lookups and activity pushes through one Feast store."""

    def __init__(self, store: Any, *, ttl_s: float, size: int) -> None:
        self.store = store
        self.view = store.get_feature_view(PROFILE_VIEW)
        self.profile_ttl_s = self.view.ttl.total_seconds() if self.view.ttl else float("inf")
        self.ttl_s = ttl_s
        self.size = size
        self._cache: OrderedDict[str, tuple[float, Profile | None, float | None]] = OrderedDict()
        self._pending: dict[str, tuple[int, list[float]]] = {}

    @classmethod
    def open(cls, data_dir: Path, redis_connection: str, project: str, **kwargs: Any) -> FeastIO:
        """The store whose registry is `data_dir/registry.db` (`fraud features apply` made it)."""
        from feature_repo.store import open_store

        if not (data_dir / "registry.db").exists():
            raise FileNotFoundError(
                f"{data_dir} has no Feast registry.db: run `fraud features apply` first, or set "
                "FRAUD_STREAM_FEATURE_DATA"
            )
        return cls(open_store(data_dir, redis_connection, project), **kwargs)

    async def profiles(
        self, users: Sequence[str], event_s: Sequence[float]
    ) -> tuple[list[Profile | None], bool]:
        """The usable profile of each (user, event time), reading the cache's misses at once.

        Returns:
            The profiles (None: the user has no usable one), and False when the online store
            did not answer, so that users not in the cache are scored without their profile.
        """
        now = time.monotonic()
        missing = [u for u in dict.fromkeys(users) if not self._fresh(u, now)]
        PROFILE_CACHE.labels("hit").inc(len(users) - len(missing))
        answered = True
        if missing:
            PROFILE_CACHE.labels("miss").inc(len(missing))
            answered = await self._read(missing, now)
        result = []
        for user, at_s in zip(users, event_s, strict=True):
            _, profile, available_s = self._cache.get(user, (0.0, None, None))
            usable = (
                profile is not None
                and available_s is not None
                and 0.0 <= at_s - available_s <= self.profile_ttl_s
            )
            result.append(profile if usable else None)
        return result, answered

    def _fresh(self, user: str, now: float) -> bool:
        cached = self._cache.get(user)
        return cached is not None and now - cached[0] < self.ttl_s

    async def _read(self, users: list[str], now: float) -> bool:
        keys = [
            EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=u)]) for u in users
        ]
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                reads = await self.store.provider.online_read_async(
                    self.store.config, self.view, keys, list(PROFILE_STORED)
                )
        except (RedisError, OSError, TimeoutError) as exc:  # down or slow: no profiles this time
            FEAST_ERRORS.labels("profile_read").inc()
            log.warning("profile read failed users=%d error=%r", len(users), exc)
            return False
        for user, read in zip(users, reads, strict=True):
            profile, available_s = values_of(read, PROFILE_STORED)
            self._cache[user] = (now, profile, available_s)
            self._cache.move_to_end(user)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return True

    def stage(
        self, users: Sequence[str], ts_us: Sequence[int], features: npt.NDArray[np.float64],
        latitude: Sequence[float], longitude: Sequence[float],
    ) -> None:  # fmt: skip
        """Keep each user's activity row of their latest event (by event time) for the next push."""
        pending = self._pending
        for i, user in enumerate(users):
            held = pending.get(user)
            if held is None or ts_us[i] >= held[0]:
                pending[user] = (ts_us[i], [*features[i, _EVENT_COLS], latitude[i], longitude[i]])

    async def flush(self) -> int:
        """Push the staged rows; on failure they stay staged (newer rows replace them)."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        frame = pd.DataFrame.from_records(
            [values for _, values in pending.values()], columns=list(ACTIVITY_COLUMNS)
        )
        frame.insert(0, "user_id", list(pending))
        frame.insert(
            1, "event_timestamp",
            pd.to_datetime([ts for ts, _ in pending.values()], unit="us", utc=True),
        )  # fmt: skip
        started = time.perf_counter()
        try:
            await self.store.push_async(PUSH_SOURCE, frame)
        except (RedisError, OSError, TimeoutError) as exc:  # keep the rows for the next flush
            FEAST_ERRORS.labels("push").inc()
            log.warning("feast push failed rows=%d error=%r", len(frame), exc)
            for user, row in pending.items():
                self._pending.setdefault(user, row)
            return 0
        FEAST_PUSH.observe(time.perf_counter() - started)
        FEAST_ROWS.inc(len(frame))
        return len(frame)
