"""The worker's two uses of Feast: profile reads (cached) and activity pushes (batched).

Profiles are daily snapshots, so a user's profile is read from the online store once and reused
for `ttl_s`; a batch's cache misses are one Redis pipeline (the provider's `online_read_async`,
as the predictor reads). A profile scores an event only if it had become available by the event's
time and is not older than the view's TTL: the point-in-time rule of the training set.

Activity rows go to the push source a batch at a time: the stream stages, per user, the row of
the latest transaction by event time, and `push()` writes the staged rows before the batch's
records are acknowledged, so a committed offset never stands for a row Redis lacks. The online
view holds one row per user, so a write per event would only overwrite itself. A push that fails
leaves its rows staged; the worker then leaves pushing to its timer (`flush()` every
`push_interval_s`) for `FAILED_PUSH_PAUSE_S`, rather than wait on Redis in every batch.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hiredis
import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis
from feast.data_source import PushSource
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.infra.online_stores.redis import _versioned_fv_name
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.types import Float64
from google.protobuf.timestamp_pb2 import Timestamp  # type: ignore[import-untyped]
from redis.exceptions import RedisError

from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.feature_views import ACTIVITY_COLUMNS, PROFILE_VIEW
from feature_repo.spec import EVENT_FEATURES, FEATURE_NAMES, PROFILE_STORED
from streaming.metrics import FEAST_ERRORS, FEAST_PUSH, FEAST_ROWS, PROFILE_CACHE

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 1.0
PUSH_TIMEOUT_S = 2.0  # per write of a chunk
FAILED_PUSH_PAUSE_S = 5.0  # after a failed push, leave pushing to the timer this long
PUSH_CHUNK = 500  # rows per script call (a batch's push is one or two calls)
KEY_CACHE_SIZE = 200_000  # users whose Redis key is kept serialised
_EVENT_COLS = [FEATURE_NAMES.index(n) for n in EVENT_FEATURES]
Profile = dict[str, float]


def push_views(store: Any) -> list[Any]:
    """The feature views the push source feeds, checked to hold what `ActivityWriter` writes."""
    views = [
        v for v in store.list_feature_views()
        if isinstance(v.stream_source, PushSource) and v.stream_source.name == PUSH_SOURCE
    ]  # fmt: skip
    if not views:
        raise ValueError(f"no feature view reads the push source {PUSH_SOURCE}: run feast apply")
    for view in views:
        names = [f.name for f in view.features]
        if sorted(names) != sorted(ACTIVITY_COLUMNS) or any(
            f.dtype != Float64 for f in view.features
        ):
            raise ValueError(
                f"feature view {view.name} holds {names}, not the Float64 activity columns "
                f"{list(ACTIVITY_COLUMNS)}: re-apply the definitions in feature_repo/"
            )
    return views


class FeastIO:
    """Profile lookups and activity pushes through one Feast store."""

    def __init__(self, store: Any, *, ttl_s: float, size: int) -> None:
        self.store = store
        self.view = store.get_feature_view(PROFILE_VIEW)
        self.profile_ttl_s = self.view.ttl.total_seconds() if self.view.ttl else float("inf")
        self.ttl_s = ttl_s
        self.size = size
        self._cache: OrderedDict[str, tuple[float, Profile | None, float | None]] = OrderedDict()
        self._pending: dict[str, tuple[int, bytes]] = {}
        self._in_flight: dict[str, tuple[int, bytes]] = {}  # the rows of the push under way
        self._flushing = asyncio.Lock()
        self._failed_at = -float("inf")  # monotonic time of the last failed push
        self.pushes = 0  # pushes that wrote rows (a change says some staged rows are gone)
        layout = self.layout = RedisLayout(store)
        self.reader = ProfileReader(layout, self.view)
        self.writer = ActivityWriter(layout, push_views(store))

    @classmethod
    def open(cls, data_dir: Path, redis_connection: str, project: str, **kwargs: Any) -> FeastIO:
        """The store whose registry is `data_dir/registry.db` (`fraud features apply` made it).

        Raises:
            FileNotFoundError: no registry there, or it lacks the project's feature views (the
                message says which command or setting fixes it).
        """
        from feast.errors import FeastObjectNotFoundException

        from feature_repo.store import open_store

        if not (data_dir / "registry.db").exists():
            raise FileNotFoundError(
                f"{data_dir} has no Feast registry.db: run `fraud features apply` first, or set "
                "FRAUD_STREAM_FEATURE_DATA"
            )
        store = open_store(data_dir, redis_connection, project)
        try:
            return cls(store, **kwargs)
        except (FeastObjectNotFoundException, ValueError) as exc:  # ValueError: push_views
            raise FileNotFoundError(
                f"the Feast registry in {data_dir} lacks project {project!r}'s feature views "
                f"({exc}): run `fraud features apply --data {data_dir} --project {project}`, or "
                "set FRAUD_STREAM_FEAST_PROJECT"
            ) from exc

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
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                reads = await self.reader.read(users)
        except (RedisError, OSError, TimeoutError) as exc:  # down or slow: no profiles this time
            FEAST_ERRORS.labels("profile_read").inc()
            log.warning("profile read failed users=%d error=%r", len(users), exc)
            return False
        for user, (profile, available_s) in zip(users, reads, strict=True):
            self._cache[user] = (now, profile, available_s)
            self._cache.move_to_end(user)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return True

    def stage(
        self, users: Sequence[str], ts_us: Sequence[int], columns: npt.NDArray[np.float64]
    ) -> None:
        """Keep each user's activity row of their latest event (by event time) for the next push.

        `columns` holds a row of the `ACTIVITY_COLUMNS` per user (`activity_columns`).
        """
        pending, flying = self._pending, self._in_flight
        rows = activity_rows(columns)
        for i, user in enumerate(users):
            held = pending.get(user) or flying.get(user)
            if held is None or ts_us[i] >= held[0]:
                pending[user] = (ts_us[i], rows[i])

    def staged(self, users: Iterable[str]) -> dict[str, tuple[int, list[float]]]:
        """Of these users, those whose row Redis has not taken yet: (event time in µs, the
        row's `ACTIVITY_COLUMNS`)."""
        pending, flying = self._pending, self._in_flight
        if not pending and not flying:
            return {}
        found = {}
        for user in users:
            row = pending.get(user) or flying.get(user)  # a row is staged only if newer
            if row is not None:
                found[user] = (row[0], row_columns(row[1]))
        return found

    def is_staged(self, user: str) -> bool:
        """Whether Redis may not have the user's staged row yet (staged, or being pushed)."""
        return user in self._pending or user in self._in_flight

    def restage(self, rows: dict[str, tuple[int, list[float]]]) -> None:
        """Stage rows kept from before (event time in µs, columns), unless newer ones are."""
        if rows:
            users = list(rows)
            columns = np.array([rows[u][1] for u in users], dtype=np.float64)
            self.stage(users, [rows[u][0] for u in users], columns)

    async def push(self) -> int:
        """A batch's push of the staged rows, unless a push failed in the last
        `FAILED_PUSH_PAUSE_S` (the timer's `flush()` retries them meanwhile)."""
        if time.monotonic() - self._failed_at < FAILED_PUSH_PAUSE_S:
            return 0
        return await self.flush()

    async def flush(self) -> int:
        """Push the staged rows; on failure they stay staged (newer rows replace them).

        One flush at a time: two at once could each read a user's event time in Redis before
        either writes, and the older row would win.
        """
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        self._in_flight = pending
        users = list(pending)
        started = time.perf_counter()
        try:
            for lo in range(0, len(users), PUSH_CHUNK):
                part = users[lo : lo + PUSH_CHUNK]
                async with asyncio.timeout(PUSH_TIMEOUT_S):
                    await self.writer.write(part, [pending[u] for u in part])
        except (RedisError, OSError, TimeoutError) as exc:  # keep the rows for the next flush
            self._failed_at = time.monotonic()
            FEAST_ERRORS.labels("push").inc()
            log.warning("feast push failed rows=%d error=%r", len(users), exc)
            for user, row in pending.items():
                self._pending.setdefault(user, row)  # a row staged meanwhile is as late or later
            return 0
        finally:
            self._in_flight = {}
        FEAST_PUSH.observe(time.perf_counter() - started)
        FEAST_ROWS.inc(len(users))
        self.pushes += 1
        return len(users)

    async def aclose(self) -> None:
        """Close the Redis clients (Feast's own `close()` leaves its async client open)."""
        await self.layout.aclose()
        await self.store.close()
        online = self.store.provider.online_store
        client = getattr(online, "_client_async", None)
        if client is not None:
            online._client_async = None
            await client.aclose()


class RedisLayout:
    """Feast's Redis online-store layout, computed as its Redis store does, with keys cached.

    A user's hash is the entity key serialised Feast's way plus the project; in it, per view,
    the murmur3 of `view:feature` holds a serialised `Value` and `_ts:view` the event time.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        config = store.config
        if getattr(config.online_store, "redis_type", None) == "redis_cluster":
            # The reader and writer run one Lua call over many users' hashes, and a cluster
            # takes such a call only when all its keys share one hash slot.
            raise ValueError(
                "the stream worker reads and writes Feast's Redis with multi-key scripts, which "
                "a Redis Cluster refuses: point the online store at a single Redis (or Sentinel)"
            )
        self.project: bytes = config.project.encode()
        self.key_version = config.entity_key_serialization_version
        self.key_ttl_s = getattr(config.online_store, "key_ttl_seconds", None)
        self._keys: dict[str, bytes] = {}
        self._client: Any = None
        self._scripts: dict[str, Any] = {}  # Lua source: redis-py's script on `_client`

    def key(self, user: str) -> bytes:
        key = self._keys.get(user)
        if key is None:
            if len(self._keys) >= KEY_CACHE_SIZE:
                self._keys.clear()
            entity = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user)])
            key = serialize_entity_key(entity, self.key_version) + self.project
            self._keys[user] = key
        return key

    def fields(self, view: Any, columns: Sequence[str]) -> tuple[bytes, list[bytes]]:
        """The hash fields of the view's event time and of its `columns`."""
        name = _versioned_fv_name(view, self.store.config)
        return f"_ts:{name}".encode(), [_mmh3(f"{name}:{c}") for c in columns]

    async def client(self) -> Any:
        """An async Redis client to the online store, packing commands with hiredis.

        redis-py's asyncio connections pack commands in Python, argument by argument: a tenth
        of the worker's time when it pushes thousands of rows a second. This client connects as
        Feast's own does (its connection settings), only packing with hiredis's C packer; any
        other kind of connection (TLS, a cluster) uses Feast's client as it is.
        """
        if self._client is None:
            online = self.store.provider.online_store
            feasts = await online._get_client_async(self.store.config.online_store)
            pool: Any = getattr(feasts, "connection_pool", None)
            if type(feasts) is aioredis.Redis and pool.connection_class is aioredis.Connection:
                self._client = aioredis.Redis.from_pool(  # (closes the pool with it)
                    aioredis.ConnectionPool(
                        connection_class=_HiredisPacking, **pool.connection_kwargs
                    )
                )
            else:
                self._client = feasts
        return self._client

    async def run(self, script: str, keys: list[bytes], args: Sequence[Any]) -> Any:
        """Run a Lua script on the online store (EVALSHA, loading it when Redis lacks it)."""
        client = await self.client()
        registered = self._scripts.get(script)
        if registered is None or registered.registered_client is not client:
            registered = self._scripts[script] = client.register_script(script)
        return await registered(keys=keys, args=args)

    async def aclose(self) -> None:
        """Close the client made by `client()` (Feast's own is closed by `FeastIO.aclose`)."""
        client, self._client = self._client, None
        online = self.store.provider.online_store
        if client is not None and client is not getattr(online, "_client_async", None):
            await client.aclose()


class _HiredisPacking(aioredis.Connection):
    """redis-py's asyncio connection, packing commands with hiredis (as its sync client can)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # Split a command name holding its subcommand ('CLIENT SETINFO'), as redis-py does.
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class ProfileReader:
    """Reads profile rows as Feast's Redis store does, without a proto per value.

    `online_read_async` parses every value into a proto and the caller then takes the floats
    back out (`predictor.features.values_of`); this reads the same fields and decodes a double
    directly, falling back to the proto for anything else. The answer per user is what
    `values_of(online_read_async(...))` gives: None unless every column has a value, and the
    row's event time in epoch seconds (test_feast_io holds the two equal).

    The users' HMGETs run in one Lua call (`_READ_ROWS`): one command and one reply, which
    hiredis parses, rather than a pipeline whose every command redis-py handles in Python.
    """

    def __init__(self, layout: RedisLayout, view: Any) -> None:
        self.layout = layout
        self.ts_field, fields = layout.fields(view, PROFILE_STORED)
        self.fields = [*fields, self.ts_field]

    async def read(self, users: Sequence[str]) -> list[tuple[Profile | None, float | None]]:
        keys = [self.layout.key(u) for u in users]
        replies = await self.layout.run(_READ_ROWS, keys, self.fields)
        return [_profile(reply) for reply in replies]


# KEYS: the users' hashes; ARGV: the fields. Per key, HMGET's answer (nil for a missing field).
_READ_ROWS = r"""
local rows = {}
for i, key in ipairs(KEYS) do rows[i] = redis.call('HMGET', key, unpack(ARGV)) end
return rows
"""


def _profile(reply: list[bytes | None]) -> tuple[Profile | None, float | None]:
    *values, ts_bytes = reply
    profile = {}
    for name, raw in zip(PROFILE_STORED, values, strict=True):
        if not raw:
            return None, None
        if len(raw) == _DOUBLE_SIZE and raw[:1] == _DOUBLE_TAG:
            profile[name] = _unpack_double(raw, 1)[0]
            continue
        proto = Value.FromString(raw)
        kind = proto.WhichOneof("val")
        if kind is None or kind == "null_val":
            return None, None
        profile[name] = float(getattr(proto, kind))
    ts = Timestamp.FromString(ts_bytes) if ts_bytes else Timestamp()
    at = datetime.fromtimestamp(ts.seconds + ts.nanos / 1_000_000_000.0, tz=UTC)  # as Feast
    return profile, at.timestamp()


class ActivityWriter:
    """Writes activity rows to the online store the way Feast's Redis store does, only faster.

    `FeatureStore.push_async` turns a frame into Arrow and then into a proto per value, and the
    Redis store hashes every feature name again for every row: about 300 µs of CPU a row on the
    2-core development machine, as much as the rest of scoring an event. This writer keeps
    Feast's layout (`RedisLayout`) and its rule that an older row never replaces a newer one,
    but runs them in Redis: one Lua script call per chunk of rows (`_WRITE_ROWS`) reads each
    row's stored event time and writes the row only if it is newer, so a chunk is one round
    trip rather than two pipelines of a command per row, and the rows' values travel as one
    string of Feast's `Value` bytes (built by numpy, `activity_rows`) that the script cuts up.
    tests/integration/test_feast_io.py holds the bytes in Redis equal to what `store.push`
    writes.
    """

    def __init__(self, layout: RedisLayout, views: list[Any]) -> None:
        self.layout = layout
        self.views = [layout.fields(view, ACTIVITY_COLUMNS) for view in views]
        # The script's fixed arguments: the view count, the key TTL, the column count and the
        # views' fields.
        self._head: list[bytes | int] = [
            len(self.views), layout.key_ttl_s or 0, len(ACTIVITY_COLUMNS),
        ]  # fmt: skip
        for ts_field, fields in self.views:
            self._head += [ts_field, *fields]

    async def write(self, users: Sequence[str], rows: Sequence[tuple[int, bytes]]) -> int:
        """Write `(event time in µs, activity row)` for each user, unless Redis has it or newer.

        A row is the activity columns' `Value` bytes (`activity_rows`). Returns how many rows
        were written, summed over the views.
        """
        keys = [self.layout.key(u) for u in users]
        stamps = []
        for ts_us, _ in rows:
            seconds, micros = divmod(ts_us, 1_000_000)
            stamps.append(Timestamp(seconds=seconds, nanos=micros * 1000).SerializeToString())
        values = b"".join(row for _, row in rows)
        written: int = await self.layout.run(_WRITE_ROWS, keys, [*self._head, *stamps, values])
        return written


def activity_columns(
    features: npt.NDArray[np.float64], latitude: Sequence[float], longitude: Sequence[float]
) -> npt.NDArray[np.float64]:
    """The `ACTIVITY_COLUMNS` of each row of a batch's feature rows (spec order) and locations."""
    return np.column_stack([features[:, _EVENT_COLS], latitude, longitude])


def activity_rows(columns: npt.NDArray[np.float64]) -> list[bytes]:
    """Each row of [N, len(ACTIVITY_COLUMNS)] as `ActivityWriter.write` takes it: the columns'
    `Value` bytes one after the other (a double's is its field tag and its 8 bytes)."""
    values = np.empty(columns.shape, dtype=_DOUBLE_VALUE)
    values["tag"], values["double"] = _DOUBLE_TAG[0], columns
    raw, width = values.tobytes(), _DOUBLE_SIZE * len(ACTIVITY_COLUMNS)
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def row_columns(row: bytes) -> list[float]:
    """The columns of a row that `activity_rows` made."""
    values: list[float] = np.frombuffer(row, dtype=_DOUBLE_VALUE)["double"].tolist()
    return values


# KEYS: the users' hashes. ARGV: the number of views V, the key TTL in seconds (0: none), the
# number of columns K; per view its event-time field and its K column fields; per key its event
# time (a serialised Timestamp); last, the rows' K `Value`s of 9 bytes each, in key order.
# A row is written where the hash holds no event time or an earlier one (Feast's rule).
# Returns the rows written.
_WRITE_ROWS = r"""
local function varint(s, i)
  local v, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    v, i = v + (b % 128) * mul, i + 1
    if b < 128 then return v, i end
    mul = mul * 128
  end
end
local function seconds_nanos(s)
  local seconds, nanos, i = 0, 0, 1
  while i <= #s do
    local tag = string.byte(s, i)
    local v
    v, i = varint(s, i + 1)
    if tag == 8 then seconds = v elseif tag == 16 then nanos = v end
  end
  return seconds, nanos
end
local views, ttl, k = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local stamps = 3 + views * (k + 1)
local values = ARGV[stamps + #KEYS + 1]
local written, args = 0, {}
for v = 0, views - 1 do
  local fields = 4 + v * (k + 1)
  local ts_field = ARGV[fields]
  for c = 1, k do args[2 + 2 * c] = ARGV[fields + c] end
  args[2] = ts_field
  for r = 1, #KEYS do
    local key, stamp = KEYS[r], ARGV[stamps + r]
    local held = redis.call('HGET', key, ts_field)
    local newer = true
    if held then
      local s1, n1 = seconds_nanos(stamp)
      local s0, n0 = seconds_nanos(held)
      newer = s1 > s0 or (s1 == s0 and n1 > n0)
    end
    if newer then
      local at = (r - 1) * k * 9
      args[1], args[3] = key, stamp
      for c = 1, k do args[3 + 2 * c] = string.sub(values, at + c * 9 - 8, at + c * 9) end
      redis.call('HSET', unpack(args))
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      written = written + 1
    end
  end
end
return written
"""


# A `Value` holding only `double_val` serialises to its field tag and the 8 bytes of the double:
# `_WRITE_ROWS` writes them so and `_profile` reads them so. Checked on import:
_DOUBLE_TAG, _pack_double = b"\x29", struct.Struct("<d").pack
_DOUBLE_SIZE, _unpack_double = 9, struct.Struct("<d").unpack_from
_DOUBLE_VALUE = np.dtype([("tag", "u1"), ("double", "<f8")])  # packed: 9 bytes
for _x in (0.0, -1.5, 1e300, float("inf")):
    if Value(double_val=_x).SerializeToString() != _DOUBLE_TAG + _pack_double(_x):
        raise ImportError("Feast's Value proto no longer encodes a double as field 5")
