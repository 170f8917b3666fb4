"""StateStore on a memory store: an entry written comes back as it was, a new user starts empty."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

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
