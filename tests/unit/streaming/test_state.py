"""StateStore's cache of stored entries: hits, a rebalance empties it, least recently used goes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streaming.state import StateStore, UserState

T0 = 1_700_000_000_000_000


class CountingStore(dict[str, bytes]):
    """A memory store (keys unserialised, like Faust's) that counts its reads."""

    reads = 0

    def _encode_key(self, user: str) -> bytes:
        return user.encode()

    def get(self, user: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(user, default)


def _store(generation: list[int], cache_size: int = 10) -> tuple[StateStore, CountingStore]:
    data = CountingStore()
    return StateStore(SimpleNamespace(data=data), lambda: generation[0], cache_size), data


def _apply(state: UserState, n: int) -> None:
    state.activity.apply(
        transaction_id=f"t{n}", ts_us=T0 + n, amount=1.0, latitude=0.0, longitude=0.0,
        merchant_id="m",
    )  # fmt: skip


def test_an_entry_is_read_once_and_then_served_from_the_cache() -> None:
    states, data = _store([1])
    message = SimpleNamespace(partition=2)
    first = states.get("u1", message)
    _apply(first, 1)
    assert states.put_many({"u1": first}) == [(2, b"u1", first.to_json())]
    assert data["u1"] == first.to_json()
    again = states.get("u1", message)
    assert again is not first and again.message is message and again.key == b"u1"
    assert again.activity == first.activity
    assert data.reads == 1


def test_a_new_generation_reads_the_store_again() -> None:
    generation = [1]
    states, data = _store(generation)
    mine = states.get("u1", SimpleNamespace(partition=0))
    _apply(mine, 1)
    states.put_many({"u1": mine})
    # Another worker had the partition meanwhile and applied two more events.
    theirs = UserState.from_json(data["u1"], None)
    _apply(theirs, 2)
    _apply(theirs, 3)
    data["u1"] = theirs.to_json()
    assert states.get("u1", SimpleNamespace(partition=0)).activity.next_rank == 1  # same generation
    generation[0] = 2
    back = states.get("u1", SimpleNamespace(partition=0))
    assert back.activity.next_rank == 3
    assert data.reads == 2


def test_the_least_recently_used_entry_leaves_a_full_cache() -> None:
    states, data = _store([1], cache_size=2)
    message = SimpleNamespace(partition=0)
    states.get("a", message)
    states.get("b", message)
    states.get("a", message)  # b is now the least recently used
    states.get("c", message)  # evicts b
    assert data.reads == 3
    states.get("a", message)
    states.get("c", message)
    assert data.reads == 3
    states.get("b", message)
    assert data.reads == 4
