"""Per-user state in a changelogged Faust table: the user's activity and the last offset applied.

A Faust table finds the partition of a key (its RocksDB shard, its changelog partition) from the
stream's *current event*. The worker handles a batch at a time, so before reading or writing a
user's entry it makes one of that user's own records the current event: every record of a user
comes from the same partition (records are keyed by user_id), so the entry lands in the partition
that owns the user, and moves with it to whichever worker gets that partition.

The entry is a JSON object, so the changelog topic is readable with any Kafka client. The table
holds it as bytes (orjson, read and written here), so one serialisation serves both the local
store and the changelog.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from faust.stores import rocksdb as faust_rocksdb
from faust.stores.base import SerializedStore

# The context variable behind `faust.streams.current_event()`; Faust has no public setter.
from faust.streams import _current_event
from faust.types import TP
from rocksdict import WriteBatch

from feature_repo.activity import UserActivityState

Record = tuple[int, bytes, bytes | None]  # a changelog record: partition, key, value (None: delete)


@dataclass
class UserState:
    """One user's entry: the activity state and the highest source offset applied to it."""

    activity: UserActivityState
    offset: int = -1
    message: Any = None  # a Kafka record of this user in the current batch (for its partition)
    key: bytes = b""  # the table's key of the user

    def to_json(self) -> bytes:
        return orjson.dumps({"activity": self.activity.to_dict(), "offset": self.offset})

    @classmethod
    def from_json(cls, raw: bytes | None, message: Any) -> UserState:
        if not raw:
            return cls(UserActivityState(), -1, message)
        data = orjson.loads(raw)
        return cls(UserActivityState.from_json_form(data["activity"]), data["offset"], message)


class _At:
    """What a Faust table reads from its current event: the Kafka record."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Any) -> None:
        self.message = message


@contextmanager
def current(message: Any) -> Iterator[None]:
    """Make an event of the Kafka record `message` Faust's current event, for the block."""
    event = _At(message)
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]  # duck-typed
    try:
        yield
    finally:
        _current_event.reset(token)


class _Table:
    """A Faust table whose entries the worker writes itself (`write_local`) and sends to the
    changelog in its own batches."""

    def __init__(self, table: Any) -> None:
        self.table = table

    @property
    def changelog_topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name

    def persisted(self, offsets: dict[int, int]) -> None:
        """The changelog holds the entries up to these offsets (by partition), as Faust's
        `_on_changelog_sent` records, so that recovery reads the changelog from there."""
        topic = self.changelog_topic
        for partition, offset in offsets.items():
            self.table.data.set_persisted_offset(TP(topic, partition), offset)


class StateStore(_Table):
    """Reads and writes users' entries in a Faust table of JSON values (bytes) and RocksDB.

    An entry is read from its partition's RocksDB directly: Faust's `_get` sets a current event
    and an LRU key index per key, which cost more than the read (without the index, a read that
    has no current event, such as a Faust web view's, looks in each partition).

    Writes are the table's own, made in bulk: Faust's `table[key] = value` sends one changelog
    record per key through its producer buffer and writes the changelog offset to RocksDB once
    per record, a tenth of the worker's time at a thousand events a second. `put_many` writes
    the local store (a RocksDB write batch per partition, the partitions Faust's store opened)
    and returns the changelog records, the same bytes, for the worker to send in whole batches;
    `persisted` then records the changelog offsets as Faust's `_on_changelog_sent` does, so that
    recovery reads the changelog from where the local store stops.
    """

    def get(self, user: str, message: Any) -> UserState:
        """The user's entry (a new one if there is none); `message` is one of the user's records."""
        store = self.table.data
        key = store._encode_key(user)  # the table's key bytes, as in its changelog
        if isinstance(store, faust_rocksdb.Store):
            raw = store._db_for_partition(message.partition).get(key)
        elif isinstance(store, SerializedStore):
            with current(message):
                raw = store._get(key)
        else:  # the memory store holds keys unserialised
            raw = store.get(user)
        state = UserState.from_json(raw, message)
        state.key = key
        return state

    def put_many(self, states: dict[str, UserState]) -> list[Record]:
        """Store the entries locally; their changelog records as (partition, key, value)."""
        records: list[Record] = [(s.message.partition, s.key, s.to_json()) for s in states.values()]
        write_local(self.table.data, list(states), records)
        return records


class PendingRows(_Table):
    """Activity rows that Redis has not taken yet, in a changelogged table of their own.

    A batch whose push failed leaves its users' rows staged in memory for the retry task
    (`FeastIO.flush`), and goes on: its offsets are committed. So that a worker killed before Redis
    is back loses none of those rows, the batch also writes them here (before its states), keyed
    by user like the state table and in the same partitions, so they move with the partition. The
    worker that holds the partition next (or the same one, restarted) reads them back once Faust
    has recovered the table and stages them again. An entry is deleted (a tombstone in the
    changelog) once Redis has the user's row. Nothing is written while Redis takes every push.

    An entry is JSON: the user, the partition, the row's event time and its `ACTIVITY_COLUMNS`.
    """

    def put_many(self, rows: dict[str, tuple[int, int, list[float]]]) -> list[Record]:
        """Store (partition, event time in µs, columns) by user; their changelog records."""
        return self._write(
            {
                user: orjson.dumps(
                    {"user": user, "partition": partition, "ts_us": ts_us, "columns": columns}
                )
                for user, (partition, ts_us, columns) in rows.items()
            },
            {user: row[0] for user, row in rows.items()},
        )

    def delete_many(self, users: dict[str, int]) -> list[Record]:
        """Delete these users' entries (user: partition); their changelog tombstones."""
        return self._write(dict.fromkeys(users), users)

    def _write(self, values: dict[str, bytes | None], partitions: dict[str, int]) -> list[Record]:
        encode = self.table.data._encode_key
        records = [(partitions[user], encode(user), value) for user, value in values.items()]
        write_local(self.table.data, list(values), records)
        return records

    def read(self, partitions: set[int]) -> dict[str, tuple[int, int, list[float]]]:
        """The entries of these partitions: (partition, event time in µs, columns) by user."""
        store = self.table.data
        if isinstance(store, faust_rocksdb.Store):  # a database per partition, with Faust's
            raws = (  # offset under a key of its own
                raw
                for p in partitions
                for key, raw in store._db_for_partition(p).items()
                if key != store.offset_key
            )
        else:  # the memory store: one mapping for every partition
            raws = (raw for _, raw in store.items())
        found = {}
        for raw in raws:
            entry = orjson.loads(raw)
            if entry["partition"] in partitions:
                found[entry["user"]] = (entry["partition"], entry["ts_us"], entry["columns"])
        return found


class _Partition:
    """What a Faust store reads of a Kafka record to find a key's partition."""

    __slots__ = ("partition",)

    def __init__(self, partition: int) -> None:
        self.partition = partition


def write_local(store: Any, users: Sequence[str], records: Sequence[Record]) -> None:
    """Write a table's entries (a value of None deletes) to its local store: a RocksDB write
    batch per partition (the partitions Faust's store opened), else key by key."""
    if isinstance(store, faust_rocksdb.Store) and store.use_rocksdict:
        batches: dict[int, Any] = defaultdict(lambda: WriteBatch(raw_mode=True))
        for partition, key, value in records:
            if value is None:
                batches[partition].delete(key)
            else:
                batches[partition].put(key, value)
        for partition, batch in batches.items():
            store._db_for_partition(partition).write(batch)
        return
    serialized = isinstance(store, SerializedStore)
    for user, (partition, key, value) in zip(users, records, strict=True):
        if not serialized:  # the memory store holds keys unserialised
            if value is None:
                store.pop(user, None)
            else:
                store[user] = value
            continue
        with current(_Partition(partition)):
            if value is None:
                store._del(key)
            else:
                store._set(key, value)
