"""The stream's vectorised feature matrix equals `event_features` row by row, exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from feature_repo.activity import Activity, UserActivityState
from feature_repo.events import Transaction
from feature_repo.spec import FEATURE_NAMES, PROFILE_STORED
from feature_repo.vectors import batch_features, event_features, to_matrix

Profile = dict[str, float] | None


def _history(n: int, seed: int) -> tuple[list[Transaction], list[Activity], list[Profile]]:
    rng = random.Random(seed)
    states: dict[str, UserActivityState] = {}
    profiles: dict[str, Profile] = {
        "u0": None,
        "u1": {name: rng.uniform(1, 90) for name in PROFILE_STORED},
        "u2": {name: rng.uniform(-40, 40) for name in PROFILE_STORED},
    }
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[Transaction] = []
    activities: list[Activity] = []
    used: list[Profile] = []
    for i in range(n):
        user = f"u{rng.randrange(3)}"
        zone = timezone(timedelta(hours=rng.choice((-5, 0, 1, 9))))
        event = Transaction.model_validate(
            {
                "transaction_id": f"t{i}", "user_id": user,
                "amount": round(rng.lognormvariate(3, 1), 2), "currency": "EUR",
                "merchant_id": f"m{rng.randrange(4)}", "merchant_category": "grocery",
                "timestamp": (start + timedelta(minutes=17 * i + rng.randrange(10)))
                .astimezone(zone).isoformat(),
                "latitude": rng.uniform(-60, 60), "longitude": rng.uniform(-170, 170),
                "channel": rng.choice(("online", "pos", "atm")), "used_chip": rng.random() < 0.5,
                "used_pin": rng.random() < 0.5,
            }
        )  # fmt: skip
        state = states.setdefault(user, UserActivityState())
        activities.append(
            state.apply(
                transaction_id=event.transaction_id,
                ts_us=event.epoch_us,
                amount=event.amount,
                latitude=event.latitude,
                longitude=event.longitude,
                merchant_id=event.merchant_id,
            )  # fmt: skip
        )
        events.append(event)
        used.append(profiles[user])
    return events, activities, used


def test_batch_features_equals_event_features_row_by_row() -> None:
    events, activities, profiles = _history(300, seed=3)
    rows = [event_features(e, a, p) for e, a, p in zip(events, activities, profiles, strict=True)]
    got = batch_features(events, activities, profiles)
    assert got.dtype == np.float64 and got.shape == (len(events), len(FEATURE_NAMES))
    # Vectorised numpy kernels may round the last bit differently from scalar ones.
    expected = [[row[n] for n in FEATURE_NAMES] for row in rows]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    # The model's input, float32, is therefore the same as well.
    np.testing.assert_array_equal(got.astype(np.float32), to_matrix(rows))
    # The history exercised every branch: first events, profiles present and absent.
    assert {a.previous is None for a in activities} == {True, False}
    assert {p is None for p in profiles} == {True, False}
