"""The incremental activity state: windows, lateness, duplicates, pruning and persistence."""

from __future__ import annotations

import orjson
import pytest

from feature_repo.activity import (
    US,
    Activity,
    Duplicate,
    TooLate,
    UserActivityState,
    seconds_ahead,
)
from feature_repo.spec import MAX_AHEAD_OF_ARRIVAL

MIN = 60 * 1_000_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000 * 1_000_000


def apply(
    state: UserActivityState,
    tid: str,
    ts: int,
    amount: float = 10.0,
    merchant: str = "m1",
    lat: float = 52.5,
    lon: float = 13.4,
) -> Activity:
    return state.apply(
        transaction_id=tid, ts_us=ts, amount=amount, latitude=lat, longitude=lon,
        merchant_id=merchant,
    )  # fmt: skip


def test_windows_include_this_event_and_exclude_the_boundary() -> None:
    state = UserActivityState()
    apply(state, "a", T0, amount=5)
    apply(state, "b", T0 + 30 * MIN, amount=7)
    got = apply(state, "c", T0 + HOUR, amount=11)  # "a" is exactly 1 h back: outside (t-1h, t]
    assert (got.tx_count_1h, got.amount_sum_1h) == (2, 18.0)
    assert (got.tx_count_24h, got.amount_sum_24h) == (3, 23.0)
    assert got.previous is not None and got.previous.ts_us == T0 + 30 * MIN


def test_first_event_has_no_previous_and_counts_itself() -> None:
    got = apply(UserActivityState(), "a", T0, amount=3.5)
    assert got.previous is None
    assert (got.tx_count_1h, got.tx_count_24h, got.amount_sum_24h) == (1, 1, 3.5)
    assert got.merchant_seen_30d is False


def test_late_event_sees_only_earlier_events_and_later_ones_never_see_it() -> None:
    state = UserActivityState()
    apply(state, "a", T0)
    later = apply(state, "c", T0 + 10 * MIN, amount=20)
    late = apply(state, "b", T0 + 5 * MIN, amount=1)  # arrives after "c" but happened before
    assert later.tx_count_1h == 2
    # "c" arrived first but happened after "b": it never counts for "b".
    assert (late.tx_count_1h, late.amount_sum_1h) == (2, 11.0)
    assert late.previous is not None and late.previous.ts_us == T0
    nxt = apply(state, "d", T0 + 12 * MIN)
    assert nxt.tx_count_1h == 4
    assert nxt.previous is not None and nxt.previous.ts_us == T0 + 10 * MIN


def test_too_late_is_refused_and_leaves_state_unchanged() -> None:
    state = UserActivityState()
    apply(state, "a", T0 + HOUR)
    before = state.to_dict()
    with pytest.raises(TooLate, match="allowed lateness is 900s"):
        apply(state, "b", T0 + HOUR - 16 * MIN)
    assert state.to_dict() == before
    apply(state, "c", T0 + HOUR - 14 * MIN)  # within 15 minutes: accepted


def test_duplicate_is_refused() -> None:
    state = UserActivityState()
    apply(state, "a", T0)
    with pytest.raises(Duplicate):
        apply(state, "a", T0)


def test_previous_survives_pruning_of_old_events() -> None:
    state = UserActivityState()
    apply(state, "a", T0, lat=40.0, lon=-3.7)
    got = apply(state, "b", T0 + 10 * DAY)
    assert state.recent and all(e[0] > T0 for e in state.recent)  # "a" was pruned
    assert got.previous is not None
    assert (got.previous.ts_us, got.previous.latitude) == (T0, 40.0)
    assert got.tx_count_24h == 1


def test_merchant_memory_is_thirty_days() -> None:
    state = UserActivityState()
    apply(state, "a", T0, merchant="shop")
    assert apply(state, "b", T0 + 29 * DAY, merchant="shop").merchant_seen_30d is True
    assert apply(state, "c", T0 + 29 * DAY + HOUR, merchant="other").merchant_seen_30d is False
    # "b" is 30 days + 1 s before this one; "a" long gone.
    got = apply(state, "d", T0 + 59 * DAY + 1_000_000, merchant="shop")
    assert got.merchant_seen_30d is False


def test_state_round_trips_through_json_form() -> None:
    state = UserActivityState()
    for i in range(5):
        apply(state, f"t{i}", T0 + i * 20 * MIN, merchant=f"m{i % 2}")
    copy = UserActivityState.from_dict(state.to_dict())
    assert copy == state
    stored = UserActivityState.from_json_form(orjson.loads(orjson.dumps(state.to_dict())))
    assert stored == state
    types = (int, int, float, float, float, str)
    assert [tuple(map(type, e)) for e in stored.recent] == [types] * 5
    assert apply(copy, "x", T0 + 2 * HOUR) == apply(state, "x", T0 + 2 * HOUR)


def test_seconds_ahead_counts_only_past_the_limit() -> None:
    limit = int(MAX_AHEAD_OF_ARRIVAL.total_seconds())
    assert seconds_ahead(T0, T0) is None and seconds_ahead(T0 - HOUR, T0) is None
    assert seconds_ahead(T0 + limit * US, T0) is None
    assert seconds_ahead(T0 + limit * US + 1, T0) == limit
    assert seconds_ahead(T0 + (limit + 60) * US, T0) == limit + 60
