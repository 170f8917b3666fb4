"""StateStore and PendingRows on a memory store: an entry written comes back as it was."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from streaming.state import PendingRows, StateStore

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


def test_pending_rows_are_kept_by_partition_until_deleted() -> None:
    data = MemoryStore()
    rows = PendingRows(SimpleNamespace(data=data))
    written = rows.put_many({"u1": (0, T0, [1.0, 2.5]), "u2": (3, T0 + 1, [-4.0, 0.0])})
    assert [(p, k) for p, k, _ in written] == [(0, b"u1"), (3, b"u2")]
    assert all(v is not None and orjson.loads(v)["user"] in ("u1", "u2") for _, _, v in written)
    assert rows.read({0, 1}) == {"u1": (0, T0, [1.0, 2.5])}
    assert rows.read({0, 3}) == {"u1": (0, T0, [1.0, 2.5]), "u2": (3, T0 + 1, [-4.0, 0.0])}
    assert rows.delete_many({"u1": 0}) == [(0, b"u1", None)]  # a tombstone for the changelog
    assert rows.read({0, 3}) == {"u2": (3, T0 + 1, [-4.0, 0.0])} and "u1" not in data
