"""Where and on what: the cities of the world, merchant categories and payment channels.

Fixed tables; users, merchants and events refer to a city, a category or a channel by its index
into the arrays below.
"""

from __future__ import annotations

import numpy as np

# (name, latitude, longitude, UTC offset in minutes, weight). Offsets are standard time: DST is
# ignored on purpose, so an event's local clock is a fixed function of where it happened.
# Weights are rough metro populations in millions and decide where users live.
HOME_CITIES: tuple[tuple[str, float, float, int, float], ...] = (
    ("London", 51.5074, -0.1278, 0, 9.0),
    ("Dublin", 53.3498, -6.2603, 0, 1.4),
    ("Lisbon", 38.7223, -9.1393, 0, 2.9),
    ("Madrid", 40.4168, -3.7038, 60, 6.7),
    ("Barcelona", 41.3851, 2.1734, 60, 5.6),
    ("Paris", 48.8566, 2.3522, 60, 11.0),
    ("Lyon", 45.7640, 4.8357, 60, 2.3),
    ("Brussels", 50.8503, 4.3517, 60, 2.1),
    ("Amsterdam", 52.3676, 4.9041, 60, 2.5),
    ("Berlin", 52.5200, 13.4050, 60, 4.5),
    ("Hamburg", 53.5511, 9.9937, 60, 2.6),
    ("Munich", 48.1351, 11.5820, 60, 2.9),
    ("Frankfurt", 50.1109, 8.6821, 60, 2.3),
    ("Vienna", 48.2082, 16.3738, 60, 2.9),
    ("Zurich", 47.3769, 8.5417, 60, 1.4),
    ("Milan", 45.4642, 9.1900, 60, 4.3),
    ("Rome", 41.9028, 12.4964, 60, 4.3),
    ("Copenhagen", 55.6761, 12.5683, 60, 2.1),
    ("Stockholm", 59.3293, 18.0686, 60, 2.4),
    ("Oslo", 59.9139, 10.7522, 60, 1.5),
    ("Warsaw", 52.2297, 21.0122, 60, 3.1),
    ("Prague", 50.0755, 14.4378, 60, 2.2),
    ("Budapest", 47.4979, 19.0402, 60, 3.0),
    ("Athens", 37.9838, 23.7275, 120, 3.6),
    ("Helsinki", 60.1699, 24.9384, 120, 1.5),
    ("Bucharest", 44.4268, 26.1025, 120, 2.3),
)
# Far-away cities where stolen cards are used (and, rarely, where honest users travel).
FAR_CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("New York", 40.7128, -74.0060, -300),
    ("Lagos", 6.5244, 3.3792, 60),
    ("Bangkok", 13.7563, 100.5018, 420),
    ("São Paulo", -23.5505, -46.6333, -180),
    ("Dubai", 25.2048, 55.2708, 240),
    ("Manila", 14.5995, 120.9842, 480),
    ("Mexico City", 19.4326, -99.1332, -360),
    ("Mumbai", 19.0760, 72.8777, 330),
)
N_HOME = len(HOME_CITIES)
CITY_NAMES = tuple(c[0] for c in HOME_CITIES) + tuple(c[0] for c in FAR_CITIES)
CITY_LAT = np.array([c[1] for c in HOME_CITIES] + [c[1] for c in FAR_CITIES])
CITY_LON = np.array([c[2] for c in HOME_CITIES] + [c[2] for c in FAR_CITIES])
CITY_OFFSET = np.array([c[3] for c in HOME_CITIES] + [c[3] for c in FAR_CITIES], dtype=np.int64)
FAR_IDS = np.arange(N_HOME, len(CITY_NAMES))

# (name, amount multiplier on the user's typical amount, how readily it is paid online, share of
# everyday purchases). digital_goods is online only and cash_withdrawal ATM only.
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("grocery", 0.7, 0.10, 0.28),
    ("restaurant", 0.9, 0.15, 0.18),
    ("fuel", 1.4, 0.0, 0.08),
    ("pharmacy", 0.6, 0.10, 0.06),
    ("fashion", 1.8, 0.60, 0.07),
    ("entertainment", 1.0, 0.50, 0.07),
    ("electronics", 3.5, 0.80, 0.025),
    ("travel", 5.0, 0.90, 0.015),
    ("digital_goods", 0.35, 1.0, 0.12),
    ("cash_withdrawal", 2.5, 0.0, 0.09),
)
CATEGORY_NAMES = tuple(c[0] for c in CATEGORIES)
CAT = {name: i for i, name in enumerate(CATEGORY_NAMES)}
CATEGORY_MULT = np.array([c[1] for c in CATEGORIES])
CATEGORY_ONLINE = np.array([c[2] for c in CATEGORIES])
SPEND_WEIGHTS = np.array([c[3] for c in CATEGORIES]) / sum(c[3] for c in CATEGORIES)
# What people buy from web shops: the categories sold mostly online, by their spend share.
WEB_WEIGHTS = (
    np.where(CATEGORY_ONLINE >= 0.5, SPEND_WEIGHTS, 0.0)
    / SPEND_WEIGHTS[CATEGORY_ONLINE >= 0.5].sum()
)
ONLINE_ONLY = CAT["digital_goods"]
ATM_ONLY = CAT["cash_withdrawal"]
CHANNELS = ("online", "pos", "atm")
ONLINE, POS, ATM = 0, 1, 2
