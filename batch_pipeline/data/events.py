"""Transactions as column arrays (`Events`), the simulated time they fall in, and their place.

Never one Python object per transaction: honest spending (`honest.py`) and every fraud pattern
(`fraud.py`) make `Events` through `located`, and `records.py` turns them into Arrow tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from batch_pipeline.data.places import CITY_LAT, CITY_LON, CITY_OFFSET, ONLINE
from batch_pipeline.data.world import World

DAY = 86_400


@dataclass(frozen=True)
class Window:
    """Simulated time: `days` whole days from `start_s` (UTC seconds since the epoch)."""

    start_s: int
    days: int

    @property
    def end_s(self) -> int:
        """First second after the window."""
        return self.start_s + self.days * DAY


@dataclass(frozen=True)
class Events:
    """Transactions as columns; `offset`: UTC offset (minutes) of the place each happened."""

    ts: NDArray[np.int64]  # event instant, whole seconds since the epoch (UTC)
    user: NDArray[np.int64]
    merchant: NDArray[np.int64]
    amount: NDArray[np.float64]
    channel: NDArray[np.int64]  # index into CHANNELS
    chip: NDArray[np.bool_]
    pin: NDArray[np.bool_]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    offset: NDArray[np.int64]
    pattern: NDArray[np.int64]  # 0 for honest, else index into fraud.PATTERNS

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: NDArray[Any]) -> Events:
        """The events selected by an index or boolean mask, in that order."""
        return Events(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: Sequence[Events]) -> Events:
        """All events of `parts`, one after the other."""
        return Events(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events)}
        )


def located(
    world: World,
    rng: np.random.Generator,
    pattern: int,
    ts: NDArray[np.int64],
    user: NDArray[np.int64],
    merchant: NDArray[np.int64],
    amount: NDArray[np.float64],
    channel: NDArray[np.int64] | int,
    chip: NDArray[np.bool_] | bool,
    pin: NDArray[np.bool_] | bool,
    city: NDArray[np.int64],
) -> Events:
    """Events placed where they happened: at the shop (POS, ATM), or where the payer is (online).

    Args:
        world: The world.
        rng: Source of the location noise.
        pattern: Fraud pattern index (0 for honest).
        ts: Event instants, UTC seconds.
        user: Paying users.
        merchant: Merchants paid.
        amount: Amounts in EUR (rounded to cents here).
        channel: Channel index per event, or one for all.
        chip: Chip read, per event or for all.
        pin: PIN entered, per event or for all.
        city: City the payer is in; its UTC offset is the event's local offset. At home, online
            payments come from the user's home; elsewhere from around the city centre.

    Returns:
        The events.
    """
    n = len(ts)
    channel_arr = np.broadcast_to(np.asarray(channel, dtype=np.int64), n)
    online = channel_arr == ONLINE
    at_home = city == world.home_city[user]
    spot_lat = np.where(at_home, world.home_lat[user], CITY_LAT[city] + rng.normal(0, 0.03, n))
    spot_lon = np.where(at_home, world.home_lon[user], CITY_LON[city] + rng.normal(0, 0.045, n))
    return Events(
        ts=ts.astype(np.int64),
        user=user,
        merchant=merchant,
        amount=np.maximum(np.round(amount, 2), 0.01),
        channel=channel_arr.copy(),
        chip=np.broadcast_to(np.asarray(chip, dtype=bool), n).copy(),
        pin=np.broadcast_to(np.asarray(pin, dtype=bool), n).copy(),
        lat=np.where(online, spot_lat, world.merchant_lat[merchant]) + rng.normal(0, 5e-4, n),
        lon=np.where(online, spot_lon, world.merchant_lon[merchant]) + rng.normal(0, 7e-4, n),
        offset=CITY_OFFSET[city],
        pattern=np.full(n, pattern, dtype=np.int64),
    )
