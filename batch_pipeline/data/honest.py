"""Honest spending: each user's everyday purchases over a window, following their habits.

Favourite shops, local shops and web shops, by hour of day and day of week, with the odd trip and
the odd big purchase; from a drift day on, amounts and the online share go up.
"""

from __future__ import annotations

import numpy as np

from batch_pipeline.data.events import DAY, Events, Window, located
from batch_pipeline.data.places import (
    ATM,
    ATM_ONLY,
    CATEGORY_MULT,
    CATEGORY_ONLINE,
    CITY_OFFSET,
    FAR_IDS,
    N_HOME,
    ONLINE,
    ONLINE_ONLY,
    POS,
)
from batch_pipeline.data.world import World, pick_local, pick_online

# Relative weight of each local hour of the day: quiet 1-6 am, peaks at lunch and in the evening.
HOUR_WEIGHTS = np.array(
    [1.0, 0.5, 0.3, 0.2, 0.2, 0.4, 1.2, 2.5, 3.5, 4.0, 4.5, 5.5]
    + [7.5, 7.0, 5.0, 4.5, 5.0, 6.5, 7.5, 7.5, 6.0, 4.0, 2.5, 1.5]
)
HOUR_WEIGHTS /= HOUR_WEIGHTS.sum()
WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 0.8])  # Monday first
NIGHT_OWL_NIGHT_SHARE = 0.2  # of a night owl's transactions, made between midnight and 5 am
FAVOURITE_SKEW = 1.7  # > 1: a user's first favourites are used more often than the last ones
LOCAL_SHARE = 0.7  # of non-favourite purchases, made in a shop where the user is (rest online)
TRIPS_PER_USER_DAY = 0.002  # ~11% of users take a 2-6 day trip in 60 days
FAR_TRIP_SHARE = 0.1  # of trips, to a far city instead of another European one
BIG_PURCHASE_SHARE = 0.003  # honest purchases 4-12x the usual amount
DRIFT_AMOUNT_FACTOR = 1.3
DRIFT_ONLINE_FACTOR = 2.0


def honest_events(
    world: World,
    users: range,
    window: Window,
    rng: np.random.Generator,
    drift_day: int | None = None,
) -> Events:
    """Everyday spending of `users` over `window`, following each user's habits.

    Args:
        world: The world the users live in.
        users: Consecutive user indices to simulate.
        window: Simulated time; events fall inside it.
        rng: Source of randomness (decides everything, so pass a seeded one).
        drift_day: From this day of the window on, amounts and the online share go up.

    Returns:
        The honest events, unsorted.
    """
    n_users, day0 = len(users), window.start_s // DAY
    weekday = (day0 + np.arange(window.days) + 3) % 7  # 1970-01-01 was a Thursday
    lam = world.daily_rate[users.start : users.stop, None] * WEEKDAY_FACTOR[weekday][None, :]
    cell = np.repeat(np.arange(lam.size), rng.poisson(lam).ravel())
    k, day = cell // window.days, cell % window.days
    user, n = users.start + k, len(cell)
    home = world.home_city[user]

    # Trips may have begun before the window, so that short windows (the live stream's single
    # days) see as many travellers as long ones.
    travels = rng.random(n_users) < TRIPS_PER_USER_DAY * (window.days + 5)
    trip_start, trip_len = rng.integers(-5, window.days, n_users), rng.integers(2, 7, n_users)
    elsewhere = (
        world.home_city[users.start : users.stop] + rng.integers(1, N_HOME, n_users)
    ) % N_HOME
    far = rng.random(n_users) < FAR_TRIP_SHARE
    trip_city = np.where(far, rng.choice(FAR_IDS, n_users), elsewhere)
    away = travels[k] & (day >= trip_start[k]) & (day < trip_start[k] + trip_len[k])
    city = np.where(away, trip_city[k], home)

    r = rng.random(n)
    p_fav = np.where(away, 0.0, world.favourite_share[user])
    slot = (world.n_favourites[user] * rng.random(n) ** FAVOURITE_SKEW).astype(np.int64)
    local = r < p_fav + (1.0 - p_fav) * LOCAL_SHARE
    merchant = np.where(
        r < p_fav,
        world.favourites[user, slot],
        np.where(local, pick_local(world, rng, city), pick_online(world, rng, n)),
    )
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS)
    owl = world.night_owl[user] & (rng.random(n) < NIGHT_OWL_NIGHT_SHARE)
    hour = np.where(owl, rng.integers(0, 5, n), hour)
    ts = (day0 + day) * DAY + hour * 3600 + rng.integers(0, 3600, n) - CITY_OFFSET[city] * 60
    # Local midnight is not UTC midnight: fold the edges back in by whole days, which keeps
    # every event's local clock time.
    ts = window.start_s + (ts - window.start_s) % (window.days * DAY)
    drifted = ts >= window.start_s + (window.days if drift_day is None else drift_day) * DAY

    cat = world.merchant_category[merchant]
    share = world.online_share[user] * np.where(drifted, DRIFT_ONLINE_FACTOR, 1.0)
    remote = (cat == ONLINE_ONLY) | (world.merchant_city[merchant] != city)
    online = remote | (rng.random(n) < CATEGORY_ONLINE[cat] * share * 2.5)
    channel = np.where(cat == ATM_ONLY, ATM, np.where(online, ONLINE, POS))
    pos, atm = channel == POS, channel == ATM
    chip = atm | (pos & (rng.random(n) < world.chip_rate[user]))
    pin = atm | (chip & pos & (rng.random(n) < world.pin_rate[user]))

    amount = np.exp(
        world.spend_mu[user]
        + np.log(CATEGORY_MULT[cat])
        + world.spend_sigma[user] * rng.standard_normal(n)
    )
    amount *= np.where(rng.random(n) < BIG_PURCHASE_SHARE, rng.uniform(4.0, 12.0, n), 1.0)
    amount *= np.where(drifted, DRIFT_AMOUNT_FACTOR, 1.0)
    amount = np.where(
        atm, np.maximum(20.0, np.round(amount / 20.0) * 20.0), np.clip(amount.round(2), 0.5, 5e4)
    )
    return located(world, rng, 0, ts, user, merchant, amount, channel, chip, pin, city)
