"""Fraud on top of honest spending: the named `PATTERNS`, and `simulate`, which adds them.

Each pattern draws incidents (a victim, a start) at its rate per 1,000 user-days, then the events
of each incident. Some incidents are disguised as ordinary spending, so that a good model is still
not a perfect one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from batch_pipeline.data.events import DAY, Events, Window, located
from batch_pipeline.data.honest import honest_events
from batch_pipeline.data.places import ATM, ATM_ONLY, CAT, CITY_OFFSET, FAR_IDS, ONLINE, POS
from batch_pipeline.data.world import (
    FAR_SHOP_CATEGORIES,
    World,
    pick_by_category,
    pick_online,
    pick_shop,
)

PATTERNS = (
    "none",
    "card_testing",
    "account_takeover",
    "impossible_travel",
    "spend_spike",
    "atm_cashout",
)
PATTERN = {name: i for i, name in enumerate(PATTERNS)}
# Incidents per 1,000 user-days; with 2-15 events each they make ~1% of all transactions fraud.
INCIDENTS_PER_1000_USER_DAYS = {
    "card_testing": 0.45,
    "account_takeover": 0.9,
    "impossible_travel": 1.0,
    "spend_spike": 0.9,
    "atm_cashout": 0.6,  # only from the drift day on
}
# Share of incidents made to look ordinary, so that a good model is still not a perfect one.
CARD_TESTING_DISGUISED_SHARE = 0.2
SPEND_SPIKE_DISGUISED_SHARE = 0.25
CARD_TESTING_CASHOUT_SHARE = 0.4
_HIGH_VALUE = np.array([CAT["electronics"], CAT["fashion"], CAT["travel"]])
_EVERYDAY = np.array([CAT["grocery"], CAT["restaurant"], CAT["fashion"], CAT["entertainment"]])
_ATM_AMOUNTS = np.array([200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0])


def _incidents(
    rng: np.random.Generator, pattern: str, users: range, days: int, scale: float
) -> tuple[int, NDArray[np.int64]]:
    n = int(rng.poisson(INCIDENTS_PER_1000_USER_DAYS[pattern] * len(users) * days * scale / 1e3))
    return n, rng.integers(users.start, users.stop, n)


def _expand(
    rng: np.random.Generator, n: int, low: int, high: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per event of n incidents of low..high events: its incident, its rank, the incident size."""
    size = rng.integers(low, high + 1, n)
    incident = np.repeat(np.arange(n), size)
    rank = np.arange(len(incident)) - np.repeat(np.cumsum(size) - size, size)
    return incident, rank, size[incident]


def _new_web_shop(
    world: World, rng: np.random.Generator, user: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Web shops that are not among each user's favourites (fraudsters shop where they like)."""
    first, second = pick_online(world, rng, len(user)), pick_online(world, rng, len(user))
    known = (world.favourites[user] == first[:, None]).any(axis=1)
    return np.where(known, second, first)


def card_testing(
    world: World, users: range, window: Window, rng: np.random.Generator, scale: float
) -> Events:
    """Bursts of 5-15 small online payments at new merchants, sometimes then one big one."""
    n, victim = _incidents(rng, "card_testing", users, window.days, scale)
    t0 = window.start_s + rng.integers(0, window.days * DAY - 7200, n)
    span = rng.uniform(600.0, 1800.0, n)
    city = np.where(rng.random(n) < 0.6, rng.choice(FAR_IDS, n), world.home_city[victim])
    disguised = rng.random(n) < CARD_TESTING_DISGUISED_SHARE
    inc, rank, size = _expand(rng, n, 5, 15)
    m, user = len(inc), victim[inc]
    ts = t0[inc] + ((rank + rng.random(m)) * span[inc] / size).astype(np.int64)
    usual = world.typical_amount(user) * rng.lognormal(-0.3, 0.35, m)
    amount = np.where(disguised[inc], usual, rng.uniform(0.5, 5.0, m))
    burst = located(
        world, rng, PATTERN["card_testing"], ts, user, _new_web_shop(world, rng, user), amount,
        ONLINE, False, False, city[inc],
    )  # fmt: skip
    big = np.flatnonzero(rng.random(n) < CARD_TESTING_CASHOUT_SHARE)
    cat = rng.choice(_HIGH_VALUE, len(big))
    cashout = located(
        world, rng, PATTERN["card_testing"],
        t0[big] + span[big].astype(np.int64) + rng.integers(60, 1200, len(big)),
        victim[big], pick_by_category(world, rng, city[big], cat),
        world.typical_amount(victim[big]) * rng.uniform(3.0, 10.0, len(big)),
        ONLINE, False, False, city[big],
    )  # fmt: skip
    return Events.concat([burst, cashout])


def account_takeover(
    world: World, users: range, window: Window, rng: np.random.Generator, scale: float
) -> Events:
    """2-6 big card-not-present or cloned-card payments over a few hours in a far city."""
    n, victim = _incidents(rng, "account_takeover", users, window.days, scale)
    t0 = window.start_s + rng.integers(0, window.days * DAY - 4 * 3600, n)
    span, city = rng.uniform(3600.0, 4 * 3600.0, n), rng.choice(FAR_IDS, n)
    inc, _, _ = _expand(rng, n, 2, 6)
    m, user = len(inc), victim[inc]
    online = rng.random(m) < 0.7
    shop = pick_shop(world, rng, city[inc], rng.choice(FAR_SHOP_CATEGORIES, m))
    return located(
        world, rng, PATTERN["account_takeover"], t0[inc] + (rng.random(m) * span[inc]).astype(int),
        user, np.where(online, _new_web_shop(world, rng, user), shop),
        world.typical_amount(user) * rng.uniform(5.0, 20.0, m),
        np.where(online, ONLINE, POS), False, False, city[inc],
    )  # fmt: skip


def impossible_travel(
    world: World,
    users: range,
    window: Window,
    rng: np.random.Generator,
    scale: float,
    honest: Events,
) -> Events:
    """1-3 cloned-card POS payments in a far city within ~1.5 h of an honest one at home."""
    at_home = world.merchant_city[honest.merchant] == world.home_city[honest.user]
    ok = (honest.channel == POS) & at_home & (honest.ts < window.end_s - 3 * 3600)
    anchors = np.flatnonzero(ok)
    n = min(_incidents(rng, "impossible_travel", users, window.days, scale)[0], len(anchors))
    anchor = np.sort(rng.choice(anchors, n, replace=False))
    victim, city = honest.user[anchor], rng.choice(FAR_IDS, n)
    t0 = honest.ts[anchor] + rng.integers(600, 4500, n)
    inc, rank, _ = _expand(rng, n, 1, 3)
    m = len(inc)
    return located(
        world, rng, PATTERN["impossible_travel"], t0[inc] + rank * rng.integers(180, 900, m),
        victim[inc], pick_shop(world, rng, city[inc], rng.choice(FAR_SHOP_CATEGORIES, m)),
        world.typical_amount(victim[inc]) * rng.uniform(1.0, 4.0, m), POS, False, False, city[inc],
    )  # fmt: skip


def spend_spike(
    world: World, users: range, window: Window, rng: np.random.Generator, scale: float
) -> Events:
    """2-5 high-value purchases at home within a few hours, with a stolen card (no PIN)."""
    n, victim = _incidents(rng, "spend_spike", users, window.days, scale)
    t0 = window.start_s + rng.integers(0, window.days * DAY - 5 * 3600, n)
    span, disguised = (
        rng.uniform(1800.0, 4 * 3600.0, n),
        rng.random(n) < SPEND_SPIKE_DISGUISED_SHARE,
    )
    inc, _, _ = _expand(rng, n, 2, 5)
    m, user, home = len(inc), victim[inc], world.home_city[victim[inc]]
    quiet = disguised[inc]
    cat = np.where(quiet, rng.choice(_EVERYDAY, m), rng.choice(_HIGH_VALUE, m))
    merchant = pick_by_category(world, rng, home, cat)
    online = (world.merchant_city[merchant] != home) | (rng.random(m) < 0.3)
    factor = np.where(quiet, rng.uniform(1.5, 3.0, m), rng.uniform(8.0, 30.0, m))
    return located(
        world, rng, PATTERN["spend_spike"], t0[inc] + (rng.random(m) * span[inc]).astype(int),
        user, merchant, world.typical_amount(user) * factor, np.where(online, ONLINE, POS),
        ~online, False, home,
    )  # fmt: skip


def atm_cashout(
    world: World, users: range, window: Window, rng: np.random.Generator, scale: float, day: int
) -> Events:
    """From drift day `day` on: night-time withdrawals at home ATMs with a skimmed card and PIN."""
    n, victim = _incidents(rng, "atm_cashout", users, window.days - day, scale)
    home = world.home_city[victim]
    local = (window.start_s // DAY + rng.integers(day, window.days, n)) * DAY
    t0 = local + rng.integers(0, 5 * 3600, n) - CITY_OFFSET[home] * 60
    inc, rank, _ = _expand(rng, n, 2, 5)
    m = len(inc)
    events = located(
        world, rng, PATTERN["atm_cashout"], t0[inc] + rank * rng.integers(120, 900, m),
        victim[inc], pick_shop(world, rng, home[inc], np.full(m, ATM_ONLY)),
        rng.choice(_ATM_AMOUNTS, m), ATM, True, True, home[inc],
    )  # fmt: skip
    return events.take(events.ts >= window.start_s + day * DAY)


def simulate(
    world: World,
    users: range,
    window: Window,
    rng: np.random.Generator,
    fraud_scale: float = 1.0,
    drift_day: int | None = None,
) -> Events:
    """Honest spending plus fraud incidents of `users` over `window`.

    Args:
        world: The world.
        users: Consecutive user indices (fraud victims are drawn among them).
        window: Simulated time; every returned event falls inside it.
        rng: Source of randomness.
        fraud_scale: Multiplies every pattern's incident rate (1.0: about 1% fraud).
        drift_day: From this day of the window on, honest spending shifts and `atm_cashout`
            appears; None for no drift.

    Returns:
        The events, unsorted.
    """
    honest = honest_events(world, users, window, rng, drift_day)
    parts = [
        honest,
        card_testing(world, users, window, rng, fraud_scale),
        account_takeover(world, users, window, rng, fraud_scale),
        impossible_travel(world, users, window, rng, fraud_scale, honest),
        spend_spike(world, users, window, rng, fraud_scale),
    ]
    if drift_day is not None:
        parts.append(atm_cashout(world, users, window, rng, fraud_scale, drift_day))
    events = Events.concat(parts)
    return events.take((events.ts >= window.start_s) & (events.ts < window.end_s))
