"""The feature specification: every model input, its group, dtype, order and meaning — defined once.

Training (the Spark job and the training set), the stream (incremental state) and serving (the
predictor's feature assembly) all import this module; the model's ONNX metadata carries
`FEATURE_NAMES` and `spec_hash()`, and serving refuses a model whose list differs.

Time is event time. The features that score transaction T reflect the user's transactions up to and
including T, as known when T arrived: events are taken in arrival order, an event that arrives
later than `ALLOWED_LATENESS` behind the user's latest event time is rejected, an event whose time
is more than `MAX_AHEAD_OF_ARRIVAL` ahead of its own arrival is rejected (a wrong clock or
timestamp would otherwise become its user's latest event time and make the user's real events
too late), and an event that arrived before T but happened after T never counts for T.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Group(StrEnum):
    ACTIVITY = "activity"  # per event, incremental in the stream; Spark windows for history
    PROFILE = "profile"  # per user, daily batch snapshot over the last 90 days
    REQUEST = "request"  # from the event alone, or the event and the groups above


@dataclass(frozen=True)
class Feature:
    name: str
    group: Group
    meaning: str
    dtype: str = "float32"


# Windows and policies; the Spark job and the incremental code both use these constants.
WINDOW_SHORT = timedelta(hours=1)
WINDOW_LONG = timedelta(hours=24)
MERCHANT_MEMORY = timedelta(days=30)
PROFILE_WINDOW = timedelta(days=90)
# A day's profile snapshot covers events before that midnight (UTC) and becomes available to
# scoring this long after it, when the nightly job has run; the point-in-time join uses that time.
PROFILE_AVAILABLE_AFTER = timedelta(hours=2)
# How long after it became available a snapshot is used (the profile view's TTL). Snapshots are
# daily; one older than two days means the nightly job has stopped, and a stale profile is worse
# than none (the model then sees has_profile = 0).
PROFILE_TTL = timedelta(days=2)
# How long a user's latest transaction stays in the online activity view: a user idle for longer is
# unknown to the `{"user_id"}` path (Feast's Redis read does not apply a view's TTL; serving does).
ACTIVITY_TTL = timedelta(days=30)
ALLOWED_LATENESS = timedelta(minutes=15)
# How far an event's time may run ahead of its arrival: the Kafka record's timestamp in the stream,
# `ingested_at` in a data set. Senders' clocks drift by seconds; beyond this the timestamp is wrong.
MAX_AHEAD_OF_ARRIVAL = timedelta(minutes=15)
# Values used when a feature has nothing to look at (a user's first transaction, no profile).
NO_PREVIOUS_GAP = timedelta(days=30)
MIN_SPEED_INTERVAL = timedelta(minutes=1)
MAX_SPEED_KMH = 5000.0
MIN_MEDIAN_AMOUNT = 1.0

FEATURES: tuple[Feature, ...] = (
    # activity
    Feature("tx_count_1h", Group.ACTIVITY, "user's transactions in the hour up to and incl. this"),
    Feature("tx_count_24h", Group.ACTIVITY, "user's transactions in the 24 h up to and incl. this"),
    Feature("amount_sum_1h", Group.ACTIVITY, "sum of their amounts over the same hour"),
    Feature("amount_sum_24h", Group.ACTIVITY, "sum of their amounts over the same 24 h"),
    Feature("seconds_since_last_tx", Group.ACTIVITY, "event-time gap to the previous transaction"),
    Feature("distance_from_last_km", Group.ACTIVITY, "great-circle km from the previous one"),
    Feature("speed_from_last_kmh", Group.ACTIVITY, "implied travel speed from the previous one"),
    Feature("merchant_seen_30d", Group.ACTIVITY, "1 if the user paid this merchant in 30 days"),
    # profile
    Feature("has_profile", Group.PROFILE, "1 if a 90-day profile exists for the user"),
    Feature("amount_median_90d", Group.PROFILE, "median amount over the last 90 days"),
    Feature("amount_mean_90d", Group.PROFILE, "mean amount over the last 90 days"),
    Feature("amount_std_90d", Group.PROFILE, "sample standard deviation of those amounts"),
    Feature("tx_count_90d", Group.PROFILE, "transactions in the last 90 days"),
    Feature("distinct_merchants_90d", Group.PROFILE, "distinct merchants in the last 90 days"),
    Feature("account_age_days", Group.PROFILE, "days since the account was opened"),
    # request-time and derived
    Feature("amount", Group.REQUEST, "the transaction's amount"),
    Feature("log_amount", Group.REQUEST, "log(1 + amount)"),
    Feature("hour_sin", Group.REQUEST, "sine of the local hour of day (24 h cycle)"),
    Feature("hour_cos", Group.REQUEST, "cosine of the local hour of day"),
    Feature("is_online", Group.REQUEST, "channel is online"),
    Feature("is_pos", Group.REQUEST, "channel is a point-of-sale terminal"),
    Feature("is_atm", Group.REQUEST, "channel is an ATM"),
    Feature("used_chip", Group.REQUEST, "the card's chip was read"),
    Feature("used_pin", Group.REQUEST, "a PIN was entered"),
    Feature("distance_from_home_km", Group.REQUEST, "great-circle km from the profile's home"),
    Feature("amount_to_median_ratio", Group.REQUEST, "amount / the profile's median amount"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
ACTIVITY_FEATURES = tuple(f.name for f in FEATURES if f.group is Group.ACTIVITY)
PROFILE_FEATURES = tuple(f.name for f in FEATURES if f.group is Group.PROFILE)
REQUEST_FEATURES = tuple(f.name for f in FEATURES if f.group is Group.REQUEST)
# Profile columns stored in Feast that are not model inputs themselves, but feed derived ones.
PROFILE_STORED = ("home_latitude", "home_longitude", *PROFILE_FEATURES[1:])
# The request features that need the profile; the rest come from the event alone.
PROFILE_DERIVED = ("distance_from_home_km", "amount_to_median_ratio")
# What the event and the user's activity give without the profile: the stream computes these,
# the Spark job recomputes them for history, and the activity view holds the latest of them.
EVENT_FEATURES = tuple(n for n in FEATURE_NAMES if n not in PROFILE_FEATURES + PROFILE_DERIVED)

SPEC_VERSION = 1


def spec_hash() -> str:
    """Stable digest of names, groups, dtypes and order: models record it, serving checks it."""
    text = "\n".join(f"{f.name}:{f.group}:{f.dtype}" for f in FEATURES)
    return hashlib.sha256(f"v{SPEC_VERSION}\n{text}".encode()).hexdigest()[:16]


class FeatureSpecMismatch(ValueError):
    """A model or a table whose feature list is not this specification's."""


def check_feature_names(names: list[str] | tuple[str, ...], what: str) -> None:
    """Raise FeatureSpecMismatch saying what differs, unless `names` is the spec's order."""
    if tuple(names) == FEATURE_NAMES:
        return
    missing = [n for n in FEATURE_NAMES if n not in names]
    extra = [n for n in names if n not in FEATURE_NAMES]
    detail = []
    if missing:
        detail.append(f"missing {missing}")
    if extra:
        detail.append(f"unknown {extra}")
    if not missing and not extra:
        detail.append("same names in a different order")
    raise FeatureSpecMismatch(
        f"{what} does not match feature spec {spec_hash()}: {'; '.join(detail)}"
    )
