"""Vectors from online rows: exact where the row says enough, documented where it does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feature_repo.activity import Activity, Previous, UserActivityState
from feature_repo.events import Transaction
from feature_repo.spec import EVENT_FEATURES, FEATURE_NAMES, PROFILE_STORED
from feature_repo.vectors import event_features
from predictor.assembly import event_vectors, latest_vector, seed_state
from predictor.errors import InvalidRequest, UnknownUser
from predictor.features import OnlineRow

L_TIME = datetime(2026, 9, 18, 11, 0, tzinfo=UTC)
NOW_S = (L_TIME + timedelta(hours=1)).timestamp()  # a clock an hour after L
PROFILE = {
    "home_latitude": 48.85, "home_longitude": 2.35, "amount_median_90d": 30.0,
    "amount_mean_90d": 41.0, "amount_std_90d": 22.0, "tx_count_90d": 80.0,
    "distinct_merchants_90d": 9.0, "account_age_days": 700.0,
}  # fmt: skip


def _event(tid: str, at: datetime, **fields: object) -> Transaction:
    base: dict[str, object] = {
        "transaction_id": tid, "user_id": "u1", "amount": 50.0, "currency": "EUR",
        "merchant_id": "m1", "merchant_category": "grocery", "timestamp": at.isoformat(),
        "latitude": 48.86, "longitude": 2.34, "channel": "pos", "used_chip": True,
        "used_pin": True,
    }  # fmt: skip
    return Transaction.model_validate({**base, **fields})


def _latest_row(profile_age: timedelta = timedelta(hours=9)) -> OnlineRow:
    """The online row the stream would have pushed for L, the 3rd event of the user's hour."""
    state = UserActivityState()
    for i, minutes in enumerate((-50, -20)):
        ev = _event(f"p{i}", L_TIME + timedelta(minutes=minutes), amount=10.0)
        state.apply(
            transaction_id=ev.transaction_id, ts_us=ev.epoch_us, amount=ev.amount,
            latitude=ev.latitude, longitude=ev.longitude, merchant_id=ev.merchant_id,
        )  # fmt: skip
    last = _event("L", L_TIME, amount=20.0, latitude=48.9, longitude=2.4)
    activity = state.apply(
        transaction_id="L", ts_us=last.epoch_us, amount=20.0, latitude=48.9, longitude=2.4,
        merchant_id="m1",
    )  # fmt: skip
    values = event_features(last, activity, None)
    row = {n: values[n] for n in EVENT_FEATURES} | {"latitude": 48.9, "longitude": 2.4}
    return OnlineRow(
        "u1",
        dict(PROFILE),
        (L_TIME - profile_age).timestamp(),
        row,
        L_TIME.timestamp(),
    )


def test_latest_vector_is_the_stream_vector_with_the_profile() -> None:
    row = _latest_row()
    got = latest_vector(row, NOW_S)
    prev = Previous(int((L_TIME - timedelta(minutes=20)).timestamp() * 1e6), 48.86, 2.34)
    activity = Activity(3, 3, 40.0, 40.0, prev, True)
    last = _event("L", L_TIME, amount=20.0, latitude=48.9, longitude=2.4)
    expected = event_features(last, activity, {n: PROFILE[n] for n in PROFILE_STORED})
    assert list(got.values) == list(FEATURE_NAMES)
    for name in FEATURE_NAMES:
        assert got.values[name] == pytest.approx(expected[name]), name
    assert got.profile_found and got.activity_found


def test_a_stale_profile_is_not_used() -> None:
    got = latest_vector(_latest_row(profile_age=timedelta(days=3)), NOW_S)
    assert got.values["has_profile"] == 0.0 and not got.profile_found
    assert got.values["amount_to_median_ratio"] == 1.0  # the neutral value of the spec


def test_the_latest_transaction_uses_the_latest_profile_even_if_newer() -> None:
    got = latest_vector(_latest_row(profile_age=-timedelta(hours=3)), NOW_S)
    assert got.values["has_profile"] == 1.0 and got.profile_found


@pytest.mark.parametrize(
    ("available", "used"),
    [
        (timedelta(minutes=-10), True),  # available 10 min before the event
        (timedelta(0), True),
        (timedelta(seconds=1), False),  # a second after it: training and the stream refuse it
        (timedelta(hours=2), False),
        (timedelta(days=-2), True),  # the TTL's edge
        (timedelta(days=-2, seconds=-1), False),
    ],
)
def test_a_new_event_uses_a_profile_available_at_its_time_only(
    available: timedelta, used: bool
) -> None:
    """A late event, older than a snapshot that came after it, is scored without that snapshot,
    as the stream worker scores it (`FeastIO`) and as the training set's point-in-time join."""
    at = L_TIME + timedelta(minutes=5)
    row = _latest_row(profile_age=L_TIME - (at + available))
    got = event_vectors([_event("E", at)], {"u1": row})[0]
    assert got.profile_found is used
    assert got.values["has_profile"] == float(used)


def test_unknown_user_has_nothing_to_score() -> None:
    with pytest.raises(UnknownUser, match="'ghost' has no activity"):
        latest_vector(OnlineRow("ghost", None, None, None, None), NOW_S)


@pytest.mark.parametrize(
    ("idle", "known"),
    [
        (timedelta(days=30), True),
        (timedelta(days=30, seconds=1), False),
        (timedelta(days=83), False),
    ],
)
def test_a_user_idle_past_the_activity_ttl_is_unknown(idle: timedelta, known: bool) -> None:
    """Feast's Redis read returns the row whatever its age: the view's 30-day TTL is ours."""
    now_s = (L_TIME + idle).timestamp()
    if known:
        assert latest_vector(_latest_row(), now_s).activity_found
    else:
        with pytest.raises(UnknownUser, match="'u1' has no activity .* 30-day TTL"):
            latest_vector(_latest_row(), now_s)


def test_new_event_soon_after_the_latest_counts_its_window() -> None:
    e = _event("E", L_TIME + timedelta(minutes=10), amount=100.0, latitude=48.9, longitude=2.4)
    got = event_vectors([e], {"u1": _latest_row()})[0].values
    assert got["tx_count_1h"] == 4  # L's three, assumed still inside E's hour, and E
    assert got["amount_sum_1h"] == pytest.approx(140.0)
    assert got["seconds_since_last_tx"] == 600.0  # the previous transaction is L: exact
    assert got["distance_from_last_km"] == pytest.approx(0.0, abs=1e-6)
    assert got["merchant_seen_30d"] == 0.0  # unknown from the online row
    assert got["has_profile"] == 1.0
    assert got["amount_to_median_ratio"] == pytest.approx(100.0 / 30.0)


def test_new_event_hours_later_is_exact_and_events_chain_within_a_request() -> None:
    first = _event("E1", L_TIME + timedelta(hours=2))
    second = _event("E2", L_TIME + timedelta(hours=2, minutes=5), amount=70.0)
    one, two = (a.values for a in event_vectors([first, second], {"u1": _latest_row()}))
    assert (one["tx_count_1h"], one["tx_count_24h"]) == (1, 4)
    assert one["seconds_since_last_tx"] == 7200.0
    assert (two["tx_count_1h"], two["amount_sum_1h"]) == (2, 120.0)
    assert two["seconds_since_last_tx"] == 300.0
    assert two["merchant_seen_30d"] == 1.0  # same merchant earlier in this request


def test_first_transaction_of_a_new_user_is_scored_from_the_spec_defaults() -> None:
    got = event_vectors([_event("E", L_TIME, user_id="new")], {})[0]
    assert not got.profile_found and not got.activity_found
    assert got.values["tx_count_1h"] == 1 and got.values["has_profile"] == 0.0
    assert got.values["seconds_since_last_tx"] == 30 * 86400.0  # NO_PREVIOUS_GAP


def test_too_late_and_duplicate_events_are_refused() -> None:
    late = _event("E", L_TIME - timedelta(minutes=20))
    with pytest.raises(InvalidRequest, match=r"instances\[0\] \(E\).*allowed lateness") as caught:
        event_vectors([late], {"u1": _latest_row()})
    assert caught.value.reason == "too_late"
    e = _event("E", L_TIME + timedelta(minutes=1))
    with pytest.raises(InvalidRequest, match="already applied") as caught:
        event_vectors([e, e], {"u1": _latest_row()})
    assert caught.value.reason == "duplicate"


def test_an_event_dated_ahead_of_the_request_is_refused() -> None:
    arrived_us = int(L_TIME.timestamp()) * 1_000_000
    e = _event("E", L_TIME + timedelta(minutes=15))  # by the limit: accepted
    assert event_vectors([e], {"u1": _latest_row()}, arrived_us=arrived_us)
    wrong = _event("W", datetime(9999, 12, 31, tzinfo=UTC))
    with pytest.raises(InvalidRequest, match=r"instances\[1\] \(W\): timestamp 9999") as caught:
        event_vectors([e, wrong], {"u1": _latest_row()}, arrived_us=arrived_us)
    assert caught.value.reason == "ahead_of_arrival" and "fix the sender's clock" in str(
        caught.value
    )
    assert event_vectors([wrong], {"u1": _latest_row()})  # no arrival given: not checked


def test_seed_state_without_activity_is_empty() -> None:
    assert seed_state(None).max_ts_us is None
    assert seed_state(OnlineRow("u", dict(PROFILE), 0.0, None, None)).recent == []
