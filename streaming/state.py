"""Per-user state in a changelogged Faust table: the user's activity and the last offset applied.

A Faust table finds the partition of a key (its RocksDB shard, its changelog partition) from the
stream's *current event*. The worker handles a batch at a time, so before reading or writing a
user's entry it makes one of that user's own records the current event: every record of a user
comes from the same partition (records are keyed by user_id), so the entry lands in the partition
that owns the user, and moves with it to whichever worker gets that partition.

The entry is a JSON object, so the changelog topic is readable with any Kafka client.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# The context variable behind `faust.streams.current_event()`; Faust has no public setter.
from faust.streams import _current_event
from faust.types import TP

from feature_repo.activity import UserActivityState


@dataclass
class UserState:
    """One user's entry: the activity state and the highest source offset applied to it."""

    activity: UserActivityState
    offset: int = -1
    record: Any = None  # a Faust event of this user in the current batch (for its partition)

    def to_dict(self) -> dict[str, Any]:
        return {"activity": self.activity.to_dict(), "offset": self.offset}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None, record: Any) -> UserState:
        if not raw:
            return cls(UserActivityState(), -1, record)
        data = raw
        return cls(UserActivityState.from_dict(data["activity"]), int(data["offset"]), record)


@contextmanager
def current(record: Any) -> Iterator[None]:
    """Make `record` Faust's current event for the duration of the block."""
    token = _current_event.set(weakref.ref(record))
    try:
        yield
    finally:
        _current_event.reset(token)


class StateStore:
    """Reads and writes users' entries in a Faust table of JSON values.

    Writes are the table's own, made in bulk: Faust's `table[key] = value` sends one changelog
    record per key through its producer buffer and writes the changelog offset to RocksDB once
    per record, a tenth of the worker's time at a thousand events a second. `put_many` writes
    the local store (`table.data`, the partition's RocksDB) and returns the changelog records,
    serialised by the changelog topic exactly as Faust would, for the worker to send in whole
    batches; `persisted` then records the changelog offsets as Faust's `_on_changelog_sent`
    does, so that recovery reads the changelog from where the local store stops.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    @property
    def changelog_topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name

    def get(self, user: str, record: Any) -> UserState:
        with current(record):
            raw = self.table.get(user)
        return UserState.from_dict(raw, record)

    def put_many(self, states: dict[str, UserState]) -> list[tuple[int, bytes, bytes]]:
        """Store the entries locally; their changelog records as (partition, key, value)."""
        topic, table = self.table.changelog_topic, self.table
        records = []
        for user, state in states.items():
            value = state.to_dict()
            with current(state.record):
                table.data[user] = value
            key_bytes, _ = topic.prepare_key(user, table.key_serializer)
            value_bytes, _ = topic.prepare_value(value, table.value_serializer)
            records.append((state.record.message.partition, key_bytes, value_bytes))
        return records

    def persisted(self, offsets: dict[int, int]) -> None:
        """The changelog holds the entries up to these offsets (by partition)."""
        topic = self.changelog_topic
        for partition, offset in offsets.items():
            self.table.data.set_persisted_offset(TP(topic, partition), offset)
