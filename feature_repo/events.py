"""The transaction event: the contract between payments teams' producers and this system.

One JSON object per Kafka record on `transactions`, keyed by `user_id`. Version 1 fields are those
of DESIGN.md; anything else, or any field out of range, is rejected with a reason a person can act
on (the stream sends it to the dead-letter topic, the Spark job to its rejected output).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
CHANNELS = ("online", "pos", "atm")
# A single card payment above this is treated as a data error, not as a purchase.
MAX_AMOUNT = 1_000_000.0
# RFC 3339 with a zone: the offset (or Z) is what makes event time unambiguous. T and Z in upper
# case only (RFC 3339 allows lower case; Spark's parser does not, and both must agree).
# The whole value must match (unanchored here: Python's and Java's `$` both match before a final
# newline).
RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})"
RFC3339_EXAMPLE = "2026-11-01T09:12:33+01:00"
MAX_OFFSET_MINUTES = 18 * 60  # Java's (Spark's) limit; real zones are within -12:00 and +14:00
_RFC3339 = re.compile(RFC3339)
# What no id or category may hold: control characters, and invisible ones that make two values
# which print alike differ (zero-width spaces and joiners, bidirectional marks, overrides and
# isolates, the soft hyphen, the byte-order mark, line and paragraph separators). Listed, not a
# Unicode category, so that Python's and Java's (Spark's) regex engines read the same class
# whatever Unicode version each knows.
HIDDEN_CHARACTER = (
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    r"\ufff9-\ufffb]"
)
_HIDDEN_CHARACTER = re.compile(HIDDEN_CHARACTER)
NAMED_FIELDS = ("transaction_id", "user_id", "merchant_id", "merchant_category")
# An earlier event time is a data error (a zero or default date), not a payment. It also keeps
# event times positive, as Feast's online rows and their Redis writer (`streaming/feast_io.py`)
# need them, and within Python's dates in every zone.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)


class Transaction(BaseModel):
    """A card transaction, as produced to the `transactions` topic."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # Numbers and flags are strict, as the strings are: a JSON number (an integer will do) for
    # the amount and the coordinates, true or false for the flags. pydantic's lax mode would
    # read "12.5", "1_000", true (as 1) and "yes", which the Spark job's typed columns cannot
    # hold; such an event is a producer's bug to fix, not to guess at.
    schema_version: Literal[1] = 1
    transaction_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    amount: float = Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    merchant_id: str = Field(min_length=1, max_length=128)
    merchant_category: str = Field(min_length=1, max_length=64)
    timestamp: AwareDatetime
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)
    channel: Literal["online", "pos", "atm"]
    used_chip: bool = Field(strict=True)
    used_pin: bool = Field(strict=True)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        if type(value) is not int:  # (a Literal takes no `strict`; 1.0, true and "1" equal 1)
            raise ValueError(f"schema_version must be the integer {SCHEMA_VERSION}")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _rfc3339_string(cls, value: object) -> object:
        # Event time must say its zone; a bare number or a naive string is ambiguous. The form
        # is checked here, not left to pydantic, which also takes ISO 8601's other forms (no
        # seconds, +0100, a decimal comma) that the Spark job refuses.
        if isinstance(value, str):
            form = _RFC3339.fullmatch(value)
            if form is None:
                raise ValueError(f"timestamp must be RFC 3339 with a zone, e.g. {RFC3339_EXAMPLE}")
            zone = form.group(2)
            if zone != "Z" and int(zone[1:3]) * 60 + int(zone[4:6]) > MAX_OFFSET_MINUTES:
                raise ValueError("timestamp's zone offset must be within -18:00 and +18:00")
        elif isinstance(value, (int, float)):
            raise ValueError("timestamp must be an RFC 3339 string with a zone, not a number")
        return value

    @field_validator(*NAMED_FIELDS)
    @classmethod
    def _visible(cls, value: str) -> str:
        if hidden := _HIDDEN_CHARACTER.search(value):
            raise ValueError(
                f"must not hold control or invisible characters: U+{ord(hidden.group()):04X} at "
                f"position {hidden.start()}"
            )
        return value

    @field_validator("timestamp")
    @classmethod
    def _not_before_the_earliest(cls, value: datetime) -> datetime:
        if value < EARLIEST_EVENT:
            raise ValueError(f"timestamp before {EARLIEST_EVENT:%Y-%m-%d} is not a card payment")
        return value

    @property
    def epoch_us(self) -> int:
        """Event time as integer microseconds since the Unix epoch (UTC)."""
        return to_epoch_us(self.timestamp)

    @property
    def local_hour(self) -> int:
        """Hour of day on the clock of the place the event happened (its timestamp's zone)."""
        return self.timestamp.hour


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_us(moment: datetime) -> int:
    """Integer microseconds since the epoch: exact, so Spark and Python compare windows alike."""
    return (moment - EPOCH) // timedelta(microseconds=1)


EARLIEST_EVENT_US = to_epoch_us(EARLIEST_EVENT)
