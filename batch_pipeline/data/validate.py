"""Schema checks of raw transactions as Spark columns; a failing row gets a reason to act on.

The rules are those of `feature_repo.events.Transaction`, the model the stream validates with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feature_repo.events import (
    CHANNELS,
    EARLIEST_EVENT,
    EARLIEST_EVENT_US,
    HIDDEN_CHARACTER,
    MAX_AMOUNT,
    NAMED_FIELDS,
    RFC3339,
    RFC3339_EXAMPLE,
    SCHEMA_VERSION,
    Transaction,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

REQUIRED = (
    "transaction_id", "user_id", "amount", "currency", "merchant_id", "merchant_category",
    "timestamp", "latitude", "longitude", "channel", "used_chip", "used_pin",
)  # fmt: skip


# The longest lengths the model allows (its ids and merchant_category), from its constraints.
MAX_LENGTHS = {
    name: m.max_length
    for name, f in Transaction.model_fields.items()
    for m in f.metadata
    if hasattr(m, "max_length")
}


# The model strips surrounding whitespace from its text fields (Unicode's White_Space, as Rust's
# `trim`, which Java's `(?U)\s` matches), so "u1" and " u1 " are one user in the stream.
STRIPPED = tuple(name for name, f in Transaction.model_fields.items() if f.annotation is str)
WHITESPACE_ENDS = r"(?U)^\s+|\s+$"


def strip_text(frame: DataFrame) -> DataFrame:
    """The model's text fields without surrounding whitespace, as the stream reads them."""
    from pyspark.sql import functions as F

    types = dict(frame.dtypes)
    return frame.withColumns(
        {
            name: F.regexp_replace(F.col(name), WHITESPACE_ENDS, "")
            for name in STRIPPED
            if types.get(name) == "string"
        }
    )


def missing_columns(frame: DataFrame) -> list[str]:
    return [c for c in REQUIRED if c not in frame.columns]


# The column types that hold each field as the event's JSON does. The stream's model is strict:
# it dead-letters a number where text belongs (an id, the time, the channel), text or a flag
# where a number belongs, and anything but true or false for a flag. Spark would cast such a
# column and accept it, or reject every row of it, so a column of another type is refused whole.
TEXT_COLUMNS = (*STRIPPED, "timestamp", "channel")
_INTEGERS = ("tinyint", "smallint", "int", "bigint")
# What each kind of field is called in a refusal, and the Spark types that hold it.
KINDS: dict[str, tuple[str, ...]] = {
    "text": ("string",),
    "floats or integers": ("float", "double", *_INTEGERS),
    "booleans": ("boolean",),
    "integers": _INTEGERS,
}
COLUMN_KINDS: dict[str, str] = {
    **dict.fromkeys(TEXT_COLUMNS, "text"),
    **dict.fromkeys(("amount", "latitude", "longitude"), "floats or integers"),
    **dict.fromkeys(("used_chip", "used_pin"), "booleans"),
    "schema_version": "integers",
}


def mistyped_columns(frame: DataFrame) -> dict[str, str]:
    """The event's fields that `frame` holds as a type the event does not, with that type."""
    return {
        c: t for c, t in frame.dtypes if c in COLUMN_KINDS and t not in KINDS[COLUMN_KINDS[c]]
    }  # fmt: skip


def rejection_reason(frame: DataFrame) -> Column:
    """A column holding the first rule a row breaks, or null when the row is valid; of a frame
    whose text `strip_text` has stripped, as the model strips it before its checks."""
    from pyspark.sql import functions as F

    def blank(name: str) -> Column:
        return F.col(name).isNull() | (F.trim(F.col(name).cast("string")) == "")

    checks: list[tuple[Column, str]] = [
        (blank("transaction_id"), "transaction_id is missing"),
        (blank("user_id"), "user_id is missing"),
        (blank("merchant_id"), "merchant_id is missing"),
        (blank("merchant_category"), "merchant_category is missing"),
        *(
            (F.length(F.col(name).cast("string")) > limit,
             f"{name} is longer than {limit} characters")
            for name, limit in MAX_LENGTHS.items()
        ),
        *(
            (F.col(name).cast("string").rlike(HIDDEN_CHARACTER),
             f"{name} must not hold control or invisible characters")
            for name in NAMED_FIELDS
        ),
        (F.col("amount").isNull() | F.isnan("amount"), "amount is missing or not a number"),
        (F.col("amount") <= 0, "amount must be > 0"),
        (F.col("amount") > MAX_AMOUNT, f"amount above {MAX_AMOUNT:.0f} is not a card payment"),
        (~F.coalesce(F.col("currency").rlike("^[A-Z]{3}$"), F.lit(False)),
         "currency must be a 3-letter ISO code like EUR"),
        (~F.coalesce(F.col("timestamp").rlike(f"^(?:{RFC3339})\\z"), F.lit(False)),
         f"timestamp must be RFC 3339 with a zone, e.g. {RFC3339_EXAMPLE}"),
        # (Java's dates have a year 0000, Python's, and so the stream's, start at 0001.)
        (F.try_to_timestamp(F.col("timestamp")).isNull() | F.col("timestamp").startswith("0000"),
         "timestamp is not a real date and time"),
        (F.unix_micros(F.try_to_timestamp(F.col("timestamp"))) < EARLIEST_EVENT_US,
         f"timestamp before {EARLIEST_EVENT:%Y-%m-%d} is not a card payment"),
        (F.col("latitude").isNull() | F.isnan("latitude") | (F.abs("latitude") > 90),
         "latitude must be within -90..90"),
        (F.col("longitude").isNull() | F.isnan("longitude") | (F.abs("longitude") > 180),
         "longitude must be within -180..180"),
        (~F.coalesce(F.col("channel").isin(*CHANNELS), F.lit(False)),
         f"channel must be one of {', '.join(CHANNELS)}"),
        (F.col("used_chip").isNull() | F.col("used_pin").isNull(), "used_chip/used_pin missing"),
    ]  # fmt: skip
    if "schema_version" in frame.columns:
        checks.insert(
            0,
            (
                ~F.coalesce(F.col("schema_version") == SCHEMA_VERSION, F.lit(False)),
                f"schema_version must be {SCHEMA_VERSION}",
            ),
        )
    reason = F.lit(None).cast("string")
    for failed, why in reversed(checks):
        reason = F.when(failed, F.lit(why)).otherwise(reason)
    return reason
