"""One user's activity state, updated one event at a time: the stream's side of the activity group.

The Spark job (`batch_pipeline.data.prepare`) computes the same values for history with window
functions; `tests/integration/test_feature_parity.py` holds the two to the same answers.

Events are applied in arrival order. For an event T at event time t, the state answers from the
events that arrived before it (and T itself) whose event time is at most t; an event that happened
after t never counts for T, even if it arrived first. State is pruned to what any event still
inside the allowed lateness can need, which bounds it per user.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, cast

from feature_repo.spec import (
    ALLOWED_LATENESS,
    MAX_AHEAD_OF_ARRIVAL,
    MERCHANT_MEMORY,
    WINDOW_LONG,
    WINDOW_SHORT,
)

US = 1_000_000
SHORT_US = int(WINDOW_SHORT.total_seconds()) * US
LONG_US = int(WINDOW_LONG.total_seconds()) * US
MERCHANT_US = int(MERCHANT_MEMORY.total_seconds()) * US
LATENESS_US = int(ALLOWED_LATENESS.total_seconds()) * US
AHEAD_US = int(MAX_AHEAD_OF_ARRIVAL.total_seconds()) * US


def seconds_ahead(ts_us: int, arrival_us: int) -> int | None:
    """How many seconds an event's time runs ahead of its arrival, if more than allowed; else None.

    Checked before the event reaches its user's state: an event stamped in the future (a wrong
    clock, a wrong year) would otherwise become the user's latest event time, and every real
    event of that user would be too late until the clock caught up with it.
    """
    ahead = ts_us - arrival_us
    return ahead // US if ahead > AHEAD_US else None


class TooLate(ValueError):
    """The event's time is further behind the user's latest event time than the allowed lateness."""


class Duplicate(ValueError):
    """An event with this transaction id was already applied."""


@dataclass(frozen=True)
class Previous:
    """The user's previous transaction as known when an event arrived."""

    ts_us: int
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Activity:
    """What the state knows about one event: the raw inputs of the activity features."""

    tx_count_1h: int
    tx_count_24h: int
    amount_sum_1h: float
    amount_sum_24h: float
    previous: Previous | None
    merchant_seen_30d: bool


@dataclass
class UserActivityState:
    """Recent events of one user, pruned relative to the latest event time seen.

    `recent` holds (ts_us, rank, amount, latitude, longitude, transaction_id) sorted by
    (ts_us, rank); `older` is the latest event pruned from it; `merchants` maps a merchant to the
    sorted event times at which the user paid it.
    """

    max_ts_us: int | None = None
    next_rank: int = 0
    recent: list[tuple[int, int, float, float, float, str]] = field(default_factory=list)
    older: tuple[int, int, float, float] | None = None
    merchants: dict[str, list[int]] = field(default_factory=dict)

    def apply(
        self,
        *,
        transaction_id: str,
        ts_us: int,
        amount: float,
        latitude: float,
        longitude: float,
        merchant_id: str,
    ) -> Activity:
        """Add one event, return its activity; TooLate or Duplicate leave the state unchanged."""
        if self.max_ts_us is not None and ts_us < self.max_ts_us - LATENESS_US:
            raise TooLate(
                f"event time is {(self.max_ts_us - ts_us) / US:.0f}s behind the user's latest "
                f"event; the allowed lateness is {LATENESS_US // US}s"
            )
        if any(e[5] == transaction_id for e in self.recent):
            raise Duplicate(f"transaction {transaction_id} was already applied")

        rank = self.next_rank
        known = [e for e in self.recent if e[0] <= ts_us]
        in_long = [e for e in known if e[0] > ts_us - LONG_US]
        in_short = [e for e in in_long if e[0] > ts_us - SHORT_US]
        previous = self._previous(known)
        times = self.merchants.get(merchant_id, [])
        lo = bisect.bisect_right(times, ts_us - MERCHANT_US)
        seen = bisect.bisect_right(times, ts_us) > lo

        activity = Activity(
            tx_count_1h=len(in_short) + 1,
            tx_count_24h=len(in_long) + 1,
            amount_sum_1h=sum(e[2] for e in in_short) + amount,
            amount_sum_24h=sum(e[2] for e in in_long) + amount,
            previous=previous,
            merchant_seen_30d=seen,
        )

        bisect.insort(self.recent, (ts_us, rank, amount, latitude, longitude, transaction_id))
        bisect.insort(self.merchants.setdefault(merchant_id, []), ts_us)
        self.next_rank = rank + 1
        self.max_ts_us = ts_us if self.max_ts_us is None else max(self.max_ts_us, ts_us)
        self._prune()
        return activity

    def _previous(self, known: list[tuple[int, int, float, float, float, str]]) -> Previous | None:
        # `known` is sorted by (ts, rank): its last element is the latest earlier event.
        if known:
            ts, _, _, lat, lon, _ = known[-1]
            return Previous(ts, lat, lon)
        if self.older is not None:
            ts, _, lat, lon = self.older
            return Previous(ts, lat, lon)
        return None

    def _prune(self) -> None:
        if self.max_ts_us is None:
            return
        # An accepted event is at most LATENESS behind max_ts and looks back at most LONG_US.
        horizon = self.max_ts_us - LATENESS_US - LONG_US
        cut = bisect.bisect_right(self.recent, (horizon, float("inf")))
        if cut:
            ts, rank, _, lat, lon, _ = self.recent[cut - 1]
            self.older = (ts, rank, lat, lon)
            del self.recent[:cut]
        merchant_horizon = self.max_ts_us - LATENESS_US - MERCHANT_US
        for merchant in list(self.merchants):
            times = self.merchants[merchant]
            drop = bisect.bisect_right(times, merchant_horizon)
            if drop == len(times):
                del self.merchants[merchant]
            elif drop:
                del times[:drop]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, for a changelogged table (tuples are JSON arrays).

        It shares the state's lists rather than copying them: serialise it at once.
        """
        return {
            "max_ts_us": self.max_ts_us,
            "next_rank": self.next_rank,
            "recent": self.recent,
            "older": self.older,
            "merchants": self.merchants,
        }

    @classmethod
    def from_json_form(cls, data: dict[str, Any]) -> UserActivityState:
        """The state whose `to_dict` was written as JSON, read back from that JSON.

        Its values came back with their types (JSON keeps ints and floats apart), so only the
        arrays become tuples again; `from_dict` converts and checks every value, at twice the
        cost, for dicts made by other code.
        """
        older = data["older"]
        return cls(
            max_ts_us=data["max_ts_us"],
            next_rank=data["next_rank"],
            recent=[cast(Any, tuple(e)) for e in data["recent"]],
            older=cast(Any, tuple(older)) if older else None,
            merchants=data["merchants"],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserActivityState:
        older = data.get("older")
        return cls(
            max_ts_us=data["max_ts_us"],
            next_rank=data["next_rank"],
            recent=[
                (int(a), int(b), float(c), float(d), float(e), str(f))
                for a, b, c, d, e, f in data["recent"]
            ],
            older=(int(older[0]), int(older[1]), float(older[2]), float(older[3]))
            if older
            else None,
            merchants={k: [int(t) for t in v] for k, v in data["merchants"].items()},
        )
