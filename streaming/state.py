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
from collections.abc import Iterator
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


class StateStore:
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

    def __init__(self, table: Any) -> None:
        self.table = table

    @property
    def changelog_topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name

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

    def put_many(self, states: dict[str, UserState]) -> list[tuple[int, bytes, bytes]]:
        """Store the entries locally; their changelog records as (partition, key, value)."""
        store = self.table.data
        records = [(s.message.partition, s.key, s.to_json()) for s in states.values()]
        if isinstance(store, faust_rocksdb.Store) and store.use_rocksdict:
            batches: dict[int, Any] = defaultdict(lambda: WriteBatch(raw_mode=True))
            for partition, key, value in records:
                batches[partition].put(key, value)
            for partition, batch in batches.items():
                store._db_for_partition(partition).write(batch)
        else:
            serialized = isinstance(store, SerializedStore)
            for (user, state), (_, key, value) in zip(states.items(), records, strict=True):
                with current(state.message):
                    if serialized:
                        store._set(key, value)
                    else:
                        store[user] = value
        return records

    def persisted(self, offsets: dict[int, int]) -> None:
        """The changelog holds the entries up to these offsets (by partition)."""
        topic = self.changelog_topic
        for partition, offset in offsets.items():
            self.table.data.set_persisted_offset(TP(topic, partition), offset)
