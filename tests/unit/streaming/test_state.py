"""StateStore on a memory store: an entry written comes back as it was, a new user starts empty."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from feature_repo.activity import UserActivityState
from streaming.state import StateStore

T0 = 1_700_000_000_000_000


class MemoryStore(dict[str, bytes]):
    """Like Faust's memory store: keys unserialised, `_encode_key` gives the changelog's key."""

    def _encode_key(self, user: str) -> bytes:
        return user.encode()


def test_an_entry_is_stored_and_read_back() -> None:
    data = MemoryStore()
    states = StateStore(SimpleNamespace(data=data))
    message: Any = SimpleNamespace(partition=2)
    first = states.get("u1", message)
    assert first.offset == -1 and first.activity.next_rank == 0 and first.key == b"u1"
    first.activity.apply(
        transaction_id="t1", ts_us=T0, amount=1.0, latitude=0.0, longitude=0.0, merchant_id="m"
    )
    first.offset = 7
    assert states.put_many({"u1": first}) == [(2, b"u1", first.to_json())]
    assert data["u1"] == first.to_json()
    again = states.get("u1", message)
    assert again.activity == first.activity and again.offset == 7 and again.message is message


def test_the_latest_activity_row_is_kept_and_read_back() -> None:
    data = MemoryStore()
    states = StateStore(SimpleNamespace(data=data))
    message: Any = SimpleNamespace(partition=0)
    state = states.get("u1", message)
    assert state.row is None
    state.keep_row(T0 + 5, [1.0, 0.1])
    state.keep_row(T0, [2.0, 0.2])  # arrived later, happened before: not the latest
    assert state.row == (T0 + 5, [1.0, 0.1])
    state.keep_row(T0 + 5, [3.0, 1 / 3])  # the same time: the later arrival, as Feast's push
    states.put_many({"u1": state})
    assert orjson.loads(data["u1"])["row"] == [T0 + 5, [3.0, 1 / 3]]  # readable JSON
    assert states.get("u1", message).row == (T0 + 5, [3.0, 1 / 3])  # every bit of the double


def test_an_entry_written_without_a_row_reads_with_none() -> None:
    data = MemoryStore(u1=orjson.dumps({"activity": UserActivityState().to_dict(), "offset": 3}))
    state = StateStore(SimpleNamespace(data=data)).get("u1", SimpleNamespace(partition=0))
    assert state.offset == 3 and state.row is None
    assert b'"row"' not in state.to_json()
