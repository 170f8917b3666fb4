"""Feature formulas and the assembled feature vector, shared by the stream, serving and training.

Every formula is written once, with numpy, so the same function serves one event (scalars) and a
training table (arrays). The Spark job re-expresses the event-only formulas as Spark columns for
history; the parity test holds it to these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_repo.activity import US, Activity
from feature_repo.events import Transaction
from feature_repo.spec import (
    FEATURE_NAMES,
    MAX_SPEED_KMH,
    MIN_MEDIAN_AMOUNT,
    MIN_SPEED_INTERVAL,
    NO_PREVIOUS_GAP,
    PROFILE_FEATURES,
)

EARTH_RADIUS_KM = 6371.0088
Number = float | npt.NDArray[np.float64]


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km between points given in degrees (scalars or arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def movement(gap_s: Any, distance_km: Any, has_previous: Any) -> tuple[Any, Any, Any]:
    """seconds_since_last_tx, distance_from_last_km, speed_from_last_kmh (0 without a previous)."""
    gap = np.where(has_previous, gap_s, NO_PREVIOUS_GAP.total_seconds())
    gap = np.minimum(gap, NO_PREVIOUS_GAP.total_seconds())
    distance = np.where(has_previous, distance_km, 0.0)
    hours = np.maximum(gap, MIN_SPEED_INTERVAL.total_seconds()) / 3600.0
    speed = np.minimum(distance / hours, MAX_SPEED_KMH)
    return gap, distance, speed


def request(
    amount: Any, local_hour: Any, channel: Any, used_chip: Any, used_pin: Any
) -> dict[str, Any]:
    """The features of the event alone."""
    angle = 2 * np.pi * np.asarray(local_hour, dtype=np.float64) / 24.0
    channel = np.asarray(channel)
    return {
        "amount": np.asarray(amount, dtype=np.float64),
        "log_amount": np.log1p(amount),
        "hour_sin": np.sin(angle),
        "hour_cos": np.cos(angle),
        "is_online": (channel == "online").astype(np.float64),
        "is_pos": (channel == "pos").astype(np.float64),
        "is_atm": (channel == "atm").astype(np.float64),
        "used_chip": np.asarray(used_chip, dtype=np.float64),
        "used_pin": np.asarray(used_pin, dtype=np.float64),
    }


def profile_derived(
    amount: Any, latitude: Any, longitude: Any, has_profile: Any, home_lat: Any, home_lon: Any,
    median: Any,
) -> dict[str, Any]:  # fmt: skip
    """distance_from_home_km and amount_to_median_ratio; 0 and 1 without a profile."""
    has = np.asarray(has_profile, dtype=bool)
    amount = np.asarray(amount, dtype=np.float64)
    # Without a profile the home and median are unknown (NaN in a training table): use neutral
    # stand-ins so that no NaN reaches the arithmetic.
    home_lat = np.where(has, home_lat, latitude)
    home_lon = np.where(has, home_lon, longitude)
    median = np.where(has, median, MIN_MEDIAN_AMOUNT)
    return {
        "distance_from_home_km": np.where(
            has, haversine_km(latitude, longitude, home_lat, home_lon), 0.0
        ),
        "amount_to_median_ratio": np.where(
            has, amount / np.maximum(median, MIN_MEDIAN_AMOUNT), 1.0
        ),
    }


def event_features(
    event: Transaction, activity: Activity, profile: Mapping[str, float] | None
) -> dict[str, float]:
    """The full feature row of one event, from its activity and the user's profile (or None)."""
    prev = activity.previous
    has_prev = prev is not None
    gap_s = (event.epoch_us - prev.ts_us) / US if prev else 0.0
    distance = (
        haversine_km(event.latitude, event.longitude, prev.latitude, prev.longitude)
        if prev
        else 0.0
    )
    gap, dist, speed = movement(gap_s, distance, has_prev)
    row: dict[str, Any] = {
        "tx_count_1h": activity.tx_count_1h,
        "tx_count_24h": activity.tx_count_24h,
        "amount_sum_1h": activity.amount_sum_1h,
        "amount_sum_24h": activity.amount_sum_24h,
        "seconds_since_last_tx": gap,
        "distance_from_last_km": dist,
        "speed_from_last_kmh": speed,
        "merchant_seen_30d": float(activity.merchant_seen_30d),
    }
    has_profile = profile is not None
    stored = profile or {}
    row["has_profile"] = float(has_profile)
    for name in PROFILE_FEATURES[1:]:
        row[name] = float(stored.get(name, 0.0)) if has_profile else 0.0
    row.update(
        request(event.amount, event.local_hour, event.channel, event.used_chip, event.used_pin)
    )
    row.update(
        profile_derived(
            event.amount,
            event.latitude,
            event.longitude,
            has_profile,
            stored.get("home_latitude", 0.0),
            stored.get("home_longitude", 0.0),
            stored.get("amount_median_90d", 0.0),
        )  # fmt: skip
    )
    return {name: float(row[name]) for name in FEATURE_NAMES}


def to_matrix(rows: list[dict[str, float]] | pd.DataFrame) -> npt.NDArray[np.float32]:
    """Rows of features as the model's input: float32 [N, F] in the spec's order."""
    frame = (
        rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(FEATURE_NAMES))
    )
    matrix: npt.NDArray[np.float32] = frame.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float32)
    return matrix


def batch_features(
    events: Sequence[Transaction],
    activities: Sequence[Activity],
    profiles: Sequence[Mapping[str, float] | None],
    ts_us: Sequence[int] | None = None,
) -> npt.NDArray[np.float64]:
    """The feature rows [N, F] of many events at once: `event_features` row by row, vectorised.

    `ts_us` is the events' `epoch_us`, when the caller has it already.

    The stream scores in batches; the formulas are the same numpy functions, applied to arrays
    instead of scalars (`tests/unit/feature_repo/test_batch_features.py` holds the two equal).
    Float64, like `event_features`; the model's input is its float32 cast (`to_matrix`'s dtype).
    """
    n = len(events)
    col: dict[str, Any] = {}
    has_prev = np.array([a.previous is not None for a in activities], dtype=bool)
    ts = np.array([e.epoch_us for e in events] if ts_us is None else ts_us, dtype=np.int64)
    prev_ts = np.array([a.previous.ts_us if a.previous else 0 for a in activities], dtype=np.int64)
    lat = np.array([e.latitude for e in events], dtype=np.float64)
    lon = np.array([e.longitude for e in events], dtype=np.float64)
    prev_lat = np.array([a.previous.latitude if a.previous else 0.0 for a in activities])
    prev_lon = np.array([a.previous.longitude if a.previous else 0.0 for a in activities])
    gap_s = np.where(has_prev, (ts - prev_ts) / US, 0.0)
    distance = np.where(has_prev, haversine_km(lat, lon, prev_lat, prev_lon), 0.0)
    gap, dist, speed = movement(gap_s, distance, has_prev)
    col["tx_count_1h"] = [a.tx_count_1h for a in activities]
    col["tx_count_24h"] = [a.tx_count_24h for a in activities]
    col["amount_sum_1h"] = [a.amount_sum_1h for a in activities]
    col["amount_sum_24h"] = [a.amount_sum_24h for a in activities]
    col["seconds_since_last_tx"], col["distance_from_last_km"] = gap, dist
    col["speed_from_last_kmh"] = speed
    col["merchant_seen_30d"] = [float(a.merchant_seen_30d) for a in activities]
    has_profile = np.array([p is not None for p in profiles], dtype=bool)
    col["has_profile"] = has_profile.astype(np.float64)
    for name in PROFILE_FEATURES[1:]:
        col[name] = [float(p[name]) if p is not None else 0.0 for p in profiles]
    amount = np.array([e.amount for e in events], dtype=np.float64)
    col.update(
        request(
            amount,
            [e.local_hour for e in events],
            [e.channel for e in events],
            [e.used_chip for e in events],
            [e.used_pin for e in events],
        )
    )
    col.update(
        profile_derived(
            amount,
            lat,
            lon,
            has_profile,
            [p["home_latitude"] if p is not None else 0.0 for p in profiles],
            [p["home_longitude"] if p is not None else 0.0 for p in profiles],
            [p["amount_median_90d"] if p is not None else 0.0 for p in profiles],
        )  # fmt: skip
    )
    matrix = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)
    for j, name in enumerate(FEATURE_NAMES):
        matrix[:, j] = col[name]
    return matrix
