"""Full feature vectors from Feast's online rows, with the shared feature code.

`{"user_id"}`: the activity view holds the user's latest transaction L as the stream computed it
(every feature that needs no profile, and L's location); the profile-derived ones come from
`profile_derived` with the online profile. That is L's exact vector, given the profile.

`{"instances": [event, ...]}`: the predictor keeps no per-user state, so for a new event E it
rebuilds a stand-in of the stream's state from L's row and runs the stream's own code
(`UserActivityState.apply`, then `event_features`). What the row cannot say is approximated:
- L's 1 h events are taken to have happened at L's time and the rest of its 24 h window just
  outside L's hour, so E's counts and sums are exact when E is at L's time or more than 1 h (24 h)
  after it, and otherwise over-count the events that left the window in between;
- the previous transaction (gap, distance, speed) is L: exact, unless newer events were not
  pushed to Feast yet;
- merchants paid before are unknown: `merchant_seen_30d` is 1 only for a merchant repeated within
  the request (never for one paid before it), which errs towards suspicion;
- events of one user in one request are applied in request order, so each sees the earlier ones;
- an event more than `ALLOWED_LATENESS` older than L is refused, as the stream refuses it, and so
  is one dated more than `MAX_AHEAD_OF_ARRIVAL` after the request.
A new event's profile is used when it became available at or before the event and at most the
view's TTL (2 days) before it, the point-in-time rule of training and of the stream; otherwise the
event is scored without it (`has_profile` 0). The `{"user_id"}` path drops the "at or before"
(see predictor/README.md, "Profile freshness").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_repo.activity import (
    AHEAD_US,
    SHORT_US,
    US,
    Duplicate,
    TooLate,
    UserActivityState,
    seconds_ahead,
)
from feature_repo.events import Transaction
from feature_repo.spec import (
    ACTIVITY_TTL,
    EVENT_FEATURES,
    FEATURE_NAMES,
    PROFILE_FEATURES,
    PROFILE_TTL,
)
from feature_repo.vectors import event_features, profile_derived
from predictor.errors import InvalidRequest, UnknownUser
from predictor.features import OnlineRow

PROFILE_TTL_S = PROFILE_TTL.total_seconds()  # the profile view's ttl
ACTIVITY_TTL_S = ACTIVITY_TTL.total_seconds()  # the activity view's


@dataclass(frozen=True)
class Assembled:
    """One feature row and where its inputs came from."""

    values: dict[str, float]
    profile_found: bool
    activity_found: bool
    event_time_s: float


def usable_profile(
    row: OnlineRow, at_s: float, ttl_s: float = PROFILE_TTL_S, point_in_time: bool = True
) -> dict[str, float] | None:
    """The row's profile if it may score an event at `at_s` (epoch seconds): available at most
    `ttl_s` before it and, with `point_in_time`, not after it (training's and the stream's rule).
    """
    if row.profile is None or row.profile_at_s is None:
        return None
    age = at_s - row.profile_at_s
    return row.profile if age <= ttl_s and (age >= 0.0 or not point_in_time) else None


def latest_vector(
    row: OnlineRow, now_s: float, ttl_s: float = PROFILE_TTL_S,
    activity_ttl_s: float = ACTIVITY_TTL_S,
) -> Assembled:  # fmt: skip
    """The vector of the user's latest transaction, from its activity row and the profile.

    Raises:
        UnknownUser: the online store has no activity for the user, or only activity more than
            `activity_ttl_s` before `now_s` (epoch seconds; Feast's Redis read keeps any row).
    """
    activity, at_s = row.activity, row.activity_at_s
    if activity is None or at_s is None or now_s - at_s > activity_ttl_s:
        raise UnknownUser(row.user_id)
    # L was scored by the stream with the snapshot of its time, which the online store no longer
    # holds; the latest one may be newer than L (predictor/README.md, "Profile freshness").
    profile = usable_profile(row, at_s, ttl_s, point_in_time=False)
    values = {name: activity[name] for name in EVENT_FEATURES}
    values["has_profile"] = 1.0 if profile else 0.0
    for name in PROFILE_FEATURES[1:]:
        values[name] = profile[name] if profile else 0.0
    stored = profile or {}
    derived = profile_derived(
        activity["amount"], activity["latitude"], activity["longitude"], profile is not None,
        stored.get("home_latitude", 0.0), stored.get("home_longitude", 0.0),
        stored.get("amount_median_90d", 0.0),
    )  # fmt: skip
    values.update({name: float(v) for name, v in derived.items()})
    return Assembled({n: float(values[n]) for n in FEATURE_NAMES}, profile is not None, True, at_s)


def seed_state(row: OnlineRow | None) -> UserActivityState:
    """A stand-in for the stream's state of one user, from the latest activity row."""
    if row is None or row.activity is None or row.activity_at_s is None:
        return UserActivityState()
    a = row.activity
    ts_us = int(row.activity_at_s * US)
    lat, lon = a["latitude"], a["longitude"]
    n_short = max(int(round(a["tx_count_1h"])), 1)
    n_long = max(int(round(a["tx_count_24h"])) - n_short, 0)
    short_amount = a["amount_sum_1h"] / n_short
    long_amount = (a["amount_sum_24h"] - a["amount_sum_1h"]) / n_long if n_long else 0.0
    recent = [[ts_us - SHORT_US, k, long_amount, lat, lon, f"~online-{k}"] for k in range(n_long)]
    recent += [
        [ts_us, k, short_amount, lat, lon, f"~online-{k}"] for k in range(n_long, n_long + n_short)
    ]
    return UserActivityState.from_dict(
        {"max_ts_us": ts_us, "next_rank": len(recent), "recent": recent, "older": None,
         "merchants": {}}
    )  # fmt: skip


def event_vectors(
    events: Sequence[Transaction], rows: dict[str, OnlineRow], ttl_s: float = PROFILE_TTL_S,
    arrived_us: int | None = None,
) -> list[Assembled]:  # fmt: skip
    """Each event's vector, from the online rows of its user (see the module docstring).

    `arrived_us`: when the request came (None: not checked); an event dated more than
    `MAX_AHEAD_OF_ARRIVAL` after it is refused, as the stream refuses one after its record.

    Raises:
        InvalidRequest: an event is dated ahead of the request, is too late for its user, or
            repeats a transaction id.
    """
    states: dict[str, UserActivityState] = {}
    result = []
    for i, event in enumerate(events):
        ahead = None if arrived_us is None else seconds_ahead(event.epoch_us, arrived_us)
        if ahead is not None:
            raise InvalidRequest(
                "ahead_of_arrival",
                f"instances[{i}] ({event.transaction_id}): timestamp {event.timestamp.isoformat()} "
                f"is {ahead:,} s ahead of this request; an event may be at most "
                f"{AHEAD_US // US} s ahead of its arrival: fix the sender's clock or the timestamp",
            )
        row = rows.get(event.user_id)
        state = states.get(event.user_id)
        if state is None:
            state = states[event.user_id] = seed_state(row)
        try:
            activity = state.apply(
                transaction_id=event.transaction_id, ts_us=event.epoch_us, amount=event.amount,
                latitude=event.latitude, longitude=event.longitude, merchant_id=event.merchant_id,
            )  # fmt: skip
        except TooLate as exc:
            raise InvalidRequest(
                "too_late",
                f"instances[{i}] ({event.transaction_id}): {exc}, counted from the user's latest "
                "transaction in the online store",
            ) from exc
        except Duplicate as exc:
            raise InvalidRequest("duplicate", f"instances[{i}]: {exc} in this request") from exc
        at_s = event.epoch_us / US
        profile = usable_profile(row, at_s, ttl_s) if row else None
        values = event_features(event, activity, profile)
        found = row is not None and row.activity is not None
        result.append(Assembled(values, profile is not None, found, at_s))
    return result
