"""The feature spec and the shared formulas, on values a person can check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feature_repo.activity import Activity, Previous
from feature_repo.events import Transaction
from feature_repo.spec import (
    FEATURE_NAMES,
    FeatureSpecMismatch,
    check_feature_names,
    spec_hash,
)
from feature_repo.vectors import event_features, haversine_km, to_matrix

EVENT = {
    "transaction_id": "t1", "user_id": "u1", "amount": 120.0, "currency": "EUR",
    "merchant_id": "m1", "merchant_category": "electronics",
    "timestamp": "2026-11-01T21:30:00+01:00", "latitude": 48.8566, "longitude": 2.3522,
    "channel": "pos", "used_chip": True, "used_pin": False,
}  # fmt: skip


def test_spec_names_are_unique_and_hash_is_stable() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert spec_hash() == spec_hash() and len(spec_hash()) == 16
    for leaky in ("is_fraud", "fraud_pattern", "label", "label_available_at"):
        assert leaky not in FEATURE_NAMES


def test_feature_list_mismatch_says_what_differs() -> None:
    check_feature_names(list(FEATURE_NAMES), "model")
    with pytest.raises(FeatureSpecMismatch, match=r"missing \['amount'\]"):
        check_feature_names([n for n in FEATURE_NAMES if n != "amount"], "model")
    with pytest.raises(FeatureSpecMismatch, match="different order"):
        check_feature_names(list(reversed(FEATURE_NAMES)), "model")


def test_haversine_berlin_paris() -> None:
    assert haversine_km(52.52, 13.405, 48.8566, 2.3522) == pytest.approx(878, abs=2)
    assert haversine_km(10.0, 10.0, 10.0, 10.0) == 0.0


def test_event_features_with_previous_and_profile() -> None:
    event = Transaction.model_validate(EVENT)
    prev = Previous(event.epoch_us - 3600 * 1_000_000, 52.52, 13.405)  # Berlin, an hour ago
    activity = Activity(2, 5, 150.0, 400.0, prev, merchant_seen_30d=True)
    profile = {"home_latitude": 52.52, "home_longitude": 13.405, "amount_median_90d": 40.0,
               "amount_mean_90d": 45.0, "amount_std_90d": 10.0, "tx_count_90d": 120.0,
               "distinct_merchants_90d": 15.0, "account_age_days": 800.0}  # fmt: skip
    row = event_features(event, activity, profile)
    assert list(row) == list(FEATURE_NAMES)
    assert row["seconds_since_last_tx"] == 3600
    assert row["distance_from_last_km"] == pytest.approx(878, abs=2)
    assert row["speed_from_last_kmh"] == pytest.approx(878, abs=2)
    assert row["distance_from_home_km"] == pytest.approx(878, abs=2)
    assert row["amount_to_median_ratio"] == 3.0
    assert row["hour_sin"] == pytest.approx(math.sin(2 * math.pi * 21 / 24))
    assert (row["is_pos"], row["is_online"], row["used_chip"], row["used_pin"]) == (1, 0, 1, 0)
    assert row["merchant_seen_30d"] == 1.0 and row["has_profile"] == 1.0


def test_first_transaction_without_profile_gets_neutral_values() -> None:
    event = Transaction.model_validate(EVENT)
    row = event_features(event, Activity(1, 1, 120.0, 120.0, None, False), None)
    assert row["has_profile"] == 0.0
    assert row["distance_from_home_km"] == 0.0 and row["amount_to_median_ratio"] == 1.0
    assert row["seconds_since_last_tx"] == 30 * 86400
    assert row["distance_from_last_km"] == 0.0 and row["speed_from_last_kmh"] == 0.0
    matrix = to_matrix([row])
    assert matrix.shape == (1, len(FEATURE_NAMES)) and matrix.dtype == np.float32
    assert np.isfinite(matrix).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": -1}, "greater than 0"),
        ({"amount": float("nan")}, "finite"),
        ({"latitude": 91}, "less than or equal to 90"),
        ({"channel": "fax"}, "'online', 'pos' or 'atm'"),
        ({"timestamp": "2026-11-01 21:30:00"}, "RFC 3339"),
        ({"timestamp": "2026-11-01T21:30:00"}, "RFC 3339 with a zone"),
        ({"currency": "euro"}, "pattern"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_events_are_refused_with_a_reason(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Transaction.model_validate({**EVENT, **change})
