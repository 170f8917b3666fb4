"""The data set's records: transaction ids, RFC 3339 strings, Arrow tables, labels, arrival delays.

Strings are built as fixed-width byte arrays and handed to Arrow whole, never one Python object
per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # no type information
from numpy.typing import NDArray

from batch_pipeline.data.events import DAY, Events
from batch_pipeline.data.fraud import PATTERNS
from batch_pipeline.data.places import CATEGORY_NAMES, CHANNELS, CITY_NAMES, CITY_OFFSET
from batch_pipeline.data.world import World

# Arrival: most events reach the system within 2 s; some are late but within the pipeline's
# allowed lateness (15 min); a few are so late the pipeline rejects them.
ALLOWED_LATENESS_S = 15 * 60
LATE_FRACTION = 0.02  # 2 s to 10 min late
TOO_LATE_FRACTION = 0.0005  # 1 to 12 hours late
# Labels: fraud is reported like a chargeback, days later; honest becomes final when the
# dispute window closes.
CHARGEBACK_MEDIAN_DAYS = 7.0
CHARGEBACK_SIGMA = 0.6
CHARGEBACK_MIN_DAYS, CHARGEBACK_MAX_DAYS = 1, 45
DISPUTE_WINDOW_DAYS = 30


def transaction_ids(seed: int, namespace: int, n: int) -> NDArray[np.uint64]:
    """n transaction ids, unique by construction within and across namespaces of one seed.

    A keyed bijection (the splitmix64 finaliser) of the sequence number `namespace << 40 | i`:
    distinct inputs give distinct outputs, and the ids look random.
    """
    key = np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)
    z: NDArray[np.uint64] = (np.uint64(namespace) << np.uint64(40)) | np.arange(n, dtype=np.uint64)
    z = z ^ key
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _ascii_column(chars: NDArray[np.uint8]) -> pa.ChunkedArray:
    """Fixed-width ASCII rows as an arrow string column, without a Python object per row."""
    pieces = []
    for lo in range(0, max(len(chars), 1), 1 << 22):  # int32 offsets stay far from overflow
        part = np.ascontiguousarray(chars[lo : lo + (1 << 22)])
        offsets = np.arange(len(part) + 1, dtype=np.int32) * part.shape[1]
        pieces.append(
            pa.StringArray.from_buffers(len(part), pa.py_buffer(offsets), pa.py_buffer(part))
        )
    return pa.chunked_array(pieces, type=pa.string())


def _put(chars: NDArray[np.uint8], column: int, value: NDArray[np.int64], width: int) -> None:
    for i in range(width):
        chars[:, column + width - 1 - i] = 48 + (value // 10**i) % 10


def id_strings(ids: NDArray[np.uint64]) -> pa.ChunkedArray:
    """The ids as strings: "tx_" and 16 lower-case hex digits."""
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((len(ids), 19), dtype=np.uint8)
    chars[:, :3] = np.frombuffer(b"tx_", dtype=np.uint8)
    for i in range(16):
        chars[:, 3 + i] = hex_digits[(ids >> np.uint64(60 - 4 * i)) & np.uint64(15)]
    return _ascii_column(chars)


def rfc3339(ts: NDArray[np.int64], offset: NDArray[np.int64]) -> pa.ChunkedArray:
    """RFC 3339 strings on the local clock, e.g. "2026-11-01T09:12:33+01:00"."""
    local = ts + offset * 60
    day = (local // DAY).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    chars = np.empty((len(ts), 25), dtype=np.uint8)
    chars[:] = np.frombuffer(b"0000-00-00T00:00:00+00:00", dtype=np.uint8)
    _put(chars, 0, day.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    _put(chars, 5, month.astype(np.int64) % 12 + 1, 2)
    _put(chars, 8, (day - month.astype("datetime64[D]")).astype(np.int64) + 1, 2)
    second = local % DAY
    _put(chars, 11, second // 3600, 2)
    _put(chars, 14, second // 60 % 60, 2)
    _put(chars, 17, second % 60, 2)
    chars[:, 19] = np.where(offset < 0, ord("-"), ord("+"))
    _put(chars, 20, np.abs(offset) // 60, 2)
    _put(chars, 23, np.abs(offset) % 60, 2)
    return _ascii_column(chars)


def _names(prefix: str, n: int) -> pa.Array:
    return pa.array([f"{prefix}_{i}" for i in range(n)], type=pa.string())


def _pick(values: tuple[str, ...] | pa.Array, index: NDArray[Any]) -> pa.Array:
    table = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    return table.take(pa.array(index))


def _utc(us: NDArray[np.int64]) -> pa.Array:
    return pa.array(us, type=pa.timestamp("us", tz="UTC"))


def transactions_table(
    world: World, events: Events, ids: NDArray[np.uint64], ingested_us: NDArray[np.int64] | None
) -> pa.Table:
    """Events as rows of the Transaction schema, plus labels and (if given) `ingested_at`."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "schema_version": pa.array(np.ones(len(events), dtype=np.int32)),
        "transaction_id": id_strings(ids),
        "user_id": _pick(_names("user", world.users), events.user),
        "amount": pa.array(events.amount),
        "currency": pa.repeat(pa.scalar("EUR", type=pa.string()), len(events)),
        "merchant_id": _pick(_names("merchant", world.merchants), events.merchant),
        "merchant_category": _pick(CATEGORY_NAMES, world.merchant_category[events.merchant]),
        "timestamp": rfc3339(events.ts, events.offset),
        "latitude": pa.array(events.lat),
        "longitude": pa.array(events.lon),
        "channel": _pick(CHANNELS, events.channel),
        "used_chip": pa.array(events.chip),
        "used_pin": pa.array(events.pin),
    }
    if ingested_us is not None:
        columns["ingested_at"] = _utc(ingested_us)
    columns["is_fraud"] = pa.array(events.pattern > 0)
    columns["fraud_pattern"] = _pick(PATTERNS, events.pattern)
    return pa.table(columns)


def users_table(world: World) -> pa.Table:
    """One row per user: home, account age and spending profile."""
    return pa.table(
        {
            "user_id": _names("user", world.users),
            "home_city": _pick(CITY_NAMES, world.home_city),
            "home_latitude": pa.array(world.home_lat),
            "home_longitude": pa.array(world.home_lon),
            "utc_offset_minutes": pa.array(CITY_OFFSET[world.home_city].astype(np.int32)),
            "account_created_at": _utc(world.created_us),
            "spend_mu": pa.array(world.spend_mu),
            "spend_sigma": pa.array(world.spend_sigma),
            "daily_rate": pa.array(world.daily_rate),
            "online_share": pa.array(world.online_share),
            "chip_rate": pa.array(world.chip_rate),
            "pin_rate": pa.array(world.pin_rate),
            "favourite_share": pa.array(world.favourite_share),
            "favourite_merchants": pa.array(world.n_favourites.astype(np.int32)),
            "night_owl": pa.array(world.night_owl),
        }
    )


def merchants_table(world: World) -> pa.Table:
    """One row per merchant: category, city and location."""
    return pa.table(
        {
            "merchant_id": _names("merchant", world.merchants),
            "merchant_category": _pick(CATEGORY_NAMES, world.merchant_category),
            "city": _pick(CITY_NAMES, world.merchant_city),
            "latitude": pa.array(world.merchant_lat),
            "longitude": pa.array(world.merchant_lon),
        }
    )


def labels_table(ids: pa.ChunkedArray, events: Events, rng: np.random.Generator) -> pa.Table:
    """When each transaction's truth is known: chargeback days later, or when disputes close."""
    fraud = events.pattern > 0
    chargeback = rng.lognormal(np.log(CHARGEBACK_MEDIAN_DAYS * DAY), CHARGEBACK_SIGMA, len(events))
    delay_s = np.where(
        fraud,
        np.clip(chargeback, CHARGEBACK_MIN_DAYS * DAY, CHARGEBACK_MAX_DAYS * DAY),
        DISPUTE_WINDOW_DAYS * DAY,
    )
    known_us = events.ts * 1_000_000 + (delay_s * 1e6).astype(np.int64)
    return pa.table(
        {"transaction_id": ids, "is_fraud": pa.array(fraud), "label_available_at": _utc(known_us)}
    )


def arrival_delays_us(rng: np.random.Generator, n: int) -> NDArray[np.int64]:
    """How long each event takes to reach the system, in microseconds (see LATE_FRACTION)."""
    u = rng.random(n)
    on_time = rng.integers(0, 2_000_000, n)
    late = rng.integers(2_000_000, 600_000_000, n)
    too_late = rng.integers(3_600 * 1_000_000, 12 * 3_600 * 1_000_000, n)
    return np.where(
        u < TOO_LATE_FRACTION,
        too_late,
        np.where(u < TOO_LATE_FRACTION + LATE_FRACTION, late, on_time),
    )
