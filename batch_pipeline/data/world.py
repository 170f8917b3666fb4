"""The synthetic world: users with habits, merchants, and how to pick a shop of the world.

Everything is drawn from numpy Generators seeded by the caller, so the same arguments always give
the same world. Places and categories are in `places.py`, event columns and simulated time in
`events.py`, honest spending in `honest.py` and fraud on top of it in `fraud.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from batch_pipeline.data.places import (
    CAT,
    CATEGORY_NAMES,
    CATEGORY_ONLINE,
    CITY_LAT,
    CITY_LON,
    FAR_CITIES,
    FAR_IDS,
    HOME_CITIES,
    N_HOME,
    ONLINE_ONLY,
    SPEND_WEIGHTS,
    WEB_WEIGHTS,
)

# A city's shops, in the order they open: the first nine cover every physical category, the rest
# repeat the everyday ones, so the category mix of a city with many merchants is realistic.
_CITY_CYCLE = tuple(
    CAT[n]
    for n in (
        "grocery restaurant cash_withdrawal fuel fashion pharmacy entertainment electronics "
        "travel grocery restaurant grocery fashion restaurant grocery cash_withdrawal fuel "
        "restaurant grocery"
    ).split()
)
_FAR_CYCLE = tuple(CAT[n] for n in ("electronics", "fashion", "restaurant", "travel", "grocery"))
FAR_SHOP_CATEGORIES = np.array(_FAR_CYCLE)  # every far city has one shop of each
MERCHANTS_PER_1000_USERS = 5
MIN_MERCHANTS = 300
MIN_MERCHANTS_PER_HOME_CITY = 9
MAX_FAVOURITES = 15
# Share of a user's favourites that are web shops (anywhere) rather than shops in the home city.
ONLINE_FAVOURITE_SHARE = 0.15
NIGHT_OWL_SHARE = 0.05
# Random streams of one seed: the world here; event chunks, arrival, labels and the live stream
# use the others (generate.py, live.py), so changing one never shifts another.
STREAM_WORLD, STREAM_CHUNK, STREAM_ARRIVAL, STREAM_LABELS, STREAM_LIVE = range(5)


@dataclass(frozen=True)
class World:
    """Users and merchants as column arrays; index i is `user_{i}` / `merchant_{i}`."""

    home_city: NDArray[np.int64]
    home_lat: NDArray[np.float64]
    home_lon: NDArray[np.float64]
    created_us: NDArray[np.int64]
    spend_mu: NDArray[np.float64]
    spend_sigma: NDArray[np.float64]
    daily_rate: NDArray[np.float64]
    online_share: NDArray[np.float64]
    chip_rate: NDArray[np.float64]
    pin_rate: NDArray[np.float64]
    favourite_share: NDArray[np.float64]
    n_favourites: NDArray[np.int64]
    favourites: NDArray[np.int64]  # [users, MAX_FAVOURITES]; the first n_favourites are used
    night_owl: NDArray[np.bool_]
    merchant_city: NDArray[np.int64]  # merchants are sorted by (city, category)
    merchant_category: NDArray[np.int64]
    merchant_lat: NDArray[np.float64]
    merchant_lon: NDArray[np.float64]

    @property
    def users(self) -> int:
        """Number of users."""
        return len(self.home_city)

    @property
    def merchants(self) -> int:
        """Number of merchants."""
        return len(self.merchant_city)

    def typical_amount(self, user: NDArray[np.int64]) -> NDArray[np.float64]:
        """The median of a user's everyday spending before the category multiplier."""
        typical: NDArray[np.float64] = np.exp(self.spend_mu[user])
        return typical


def make_rng(seed: int, *key: int) -> np.random.Generator:
    """An independent Generator for one purpose (`key`) of one seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _spread(total: int, weights: NDArray[np.float64], minimum: int) -> NDArray[np.int64]:
    """Split `total` into len(weights) integers >= minimum, proportionally (largest remainder)."""
    extra = total - minimum * len(weights)
    share = extra * weights / weights.sum()
    counts: NDArray[np.int64] = np.floor(share).astype(np.int64)
    left = extra - int(counts.sum())
    counts[np.argsort(-(share - counts), kind="stable")[:left]] += 1
    counts += minimum
    return counts


def _build_merchants(
    users: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    total = max(MIN_MERCHANTS, users * MERCHANTS_PER_1000_USERS // 1000)
    n_far = len(_FAR_CYCLE) * len(FAR_CITIES)
    n_online = max(10, total // 16)
    weights = np.array([c[4] for c in HOME_CITIES])
    per_city = _spread(total - n_far - n_online, weights, MIN_MERCHANTS_PER_HOME_CITY)
    far_city = np.repeat(FAR_IDS, n_far // len(FAR_CITIES))
    city = np.concatenate(
        [
            np.repeat(np.arange(N_HOME), per_city),
            far_city,
            rng.choice(N_HOME, size=n_online, p=weights / weights.sum()),
        ]
    )
    cat = np.concatenate(
        [np.resize(np.array(_CITY_CYCLE), int(count)) for count in per_city]
        + [np.resize(np.array(_FAR_CYCLE), len(far_city)), np.full(n_online, ONLINE_ONLY)]
    )
    order = np.lexsort((cat, city))
    return city[order].astype(np.int64), cat[order].astype(np.int64)


def pick_in_city(world: World, rng: np.random.Generator, city: NDArray[np.int64]) -> NDArray[Any]:
    """A uniformly random merchant of each given city (every city has merchants)."""
    first = np.searchsorted(world.merchant_city, city)
    count = np.searchsorted(world.merchant_city, city, side="right") - first
    return first + (rng.random(len(city)) * count).astype(np.int64)


def pick_online(world: World, rng: np.random.Generator, n: int) -> NDArray[np.int64]:
    """Random web shops (any city), by what people buy online (WEB_WEIGHTS)."""
    cat = rng.choice(len(CATEGORY_NAMES), size=n, p=WEB_WEIGHTS)
    return pick_by_category(world, rng, rng.integers(0, N_HOME, n), cat)


def pick_local(world: World, rng: np.random.Generator, city: NDArray[np.int64]) -> NDArray[Any]:
    """A random shop of each city, by spend share (web shops of digital goods anywhere)."""
    cat = rng.choice(len(CATEGORY_NAMES), size=len(city), p=SPEND_WEIGHTS)
    merchant = pick_shop(world, rng, city, cat)
    return np.where(cat == ONLINE_ONLY, pick_by_category(world, rng, city, cat), merchant)


def pick_shop(
    world: World, rng: np.random.Generator, city: NDArray[np.int64], cat: NDArray[np.int64]
) -> NDArray[np.int64]:
    """A shop of `cat` in `city` to pay in person; any shop of the city if none is of `cat`."""
    merchant = pick_by_category(world, rng, city, cat)
    stray = world.merchant_city[merchant] != city
    return np.where(stray, pick_in_city(world, rng, city), merchant)


def pick_by_category(
    world: World, rng: np.random.Generator, city: NDArray[np.int64], cat: NDArray[np.int64]
) -> NDArray[np.int64]:
    """A random merchant of `cat` in `city`, or of `cat` anywhere when the city has none."""
    k = len(CATEGORY_NAMES)
    keys = world.merchant_city * k + world.merchant_category  # ascending, like merchants
    first = np.searchsorted(keys, city * k + cat)
    count = np.searchsorted(keys, city * k + cat, side="right") - first
    by_cat = np.argsort(world.merchant_category, kind="stable")
    cat_first = np.searchsorted(world.merchant_category[by_cat], cat)
    cat_count = np.searchsorted(world.merchant_category[by_cat], cat, side="right") - cat_first
    r = rng.random(len(city))
    anywhere = by_cat[np.minimum(cat_first + (r * cat_count).astype(np.int64), len(by_cat) - 1)]
    return np.where(count > 0, first + (r * count).astype(np.int64), anywhere)


def build_world(users: int, seed: int, start: date) -> World:
    """Draw the users and merchants of a world.

    Args:
        users: Number of users (card holders), at least 1.
        seed: Seed of the world; the same seed and user count give the same world.
        start: First day of simulated time; accounts are opened before it.

    Returns:
        The world, with merchants sorted by (city, category).
    """
    rng = make_rng(seed, STREAM_WORLD)
    m_city, m_cat = _build_merchants(users, rng)
    weights = np.array([c[4] for c in HOME_CITIES])
    home = rng.choice(N_HOME, size=users, p=weights / weights.sum())
    start_s = (start - date(1970, 1, 1)).days * 86_400
    age_s = rng.integers(86_400, 6 * 365 * 86_400, size=users)
    world = World(
        home_city=home,
        home_lat=CITY_LAT[home] + rng.normal(0, 0.03, users),
        home_lon=CITY_LON[home] + rng.normal(0, 0.045, users),
        created_us=(start_s - age_s) * 1_000_000,
        spend_mu=rng.normal(np.log(30.0), 0.45, users),
        spend_sigma=rng.uniform(0.35, 0.75, users),
        daily_rate=np.clip(rng.lognormal(np.log(1.3), 0.45, users), 0.2, 8.0),
        online_share=rng.beta(2.0, 5.0, users),
        chip_rate=rng.uniform(0.85, 0.99, users),
        pin_rate=rng.uniform(0.15, 0.6, users),
        favourite_share=rng.uniform(0.7, 0.92, users),
        n_favourites=rng.integers(5, MAX_FAVOURITES + 1, size=users),
        favourites=np.zeros((users, MAX_FAVOURITES), dtype=np.int64),
        night_owl=rng.random(users) < NIGHT_OWL_SHARE,
        merchant_city=m_city,
        merchant_category=m_cat,
        merchant_lat=CITY_LAT[m_city] + rng.normal(0, 0.03, len(m_city)),
        merchant_lon=CITY_LON[m_city] + rng.normal(0, 0.045, len(m_city)),
    )
    # Favourites are shops of the home city, by spend share; a few are web shops elsewhere.
    cat = rng.choice(len(CATEGORY_NAMES), size=users * MAX_FAVOURITES, p=SPEND_WEIGHTS)
    city = np.repeat(home, MAX_FAVOURITES)
    web = (CATEGORY_ONLINE[cat] >= 0.5) & (rng.random(len(cat)) < ONLINE_FAVOURITE_SHARE)
    city = np.where(web, rng.integers(0, N_HOME, len(cat)), city)
    favourites = pick_by_category(world, rng, city, cat).reshape(users, MAX_FAVOURITES)
    return replace(world, favourites=favourites)
