"""From a Kafka record to a validated `Transaction`, or to a reason a person can act on.

Every way an event can be wrong ends here as a `Rejected` with a `kind` (a bounded metric label)
and a sentence naming the field, the rule and the offending value; the worker dead-letters it with
the original bytes and carries on. Nothing in this module raises on input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from feature_repo.activity import AHEAD_US, US, seconds_ahead
from feature_repo.events import Transaction

MAX_SHOWN = 80  # characters of an offending value (or field name) quoted in a reason
MAX_ERRORS = 10  # failed fields described in a reason (the event has 13 fields)


@dataclass(frozen=True)
class Rejected:
    """Why a record cannot be scored."""

    # oversized, not_utf8, not_json, not_object, invalid, wrong_key, ahead_of_arrival, too_late
    # or duplicate
    kind: str
    reason: str


def decode(key: bytes | None, value: bytes | None, max_bytes: int) -> Transaction | Rejected:
    """The record's transaction, or why there is none."""
    if value is None:
        return Rejected("not_json", "the record has no value (a tombstone); send one JSON event")
    size = len(value) + len(key or b"")
    if size > max_bytes:
        return Rejected(
            "oversized",
            f"the record's key and value are {size} bytes; an event is at most {max_bytes} bytes "
            "— send one transaction per record, keyed by its user_id",
        )
    try:
        # pydantic's own JSON parser, without a dict in between; what it refuses is read again
        # below, to say why (the two accept the same events: tests/unit/streaming/test_decode.py)
        event = Transaction.model_validate_json(value)
    except ValidationError:
        checked = _validate(value)
        if isinstance(checked, Rejected):
            return checked
        event = checked
    try:
        user = key.decode("utf-8") if key is not None else None
    except UnicodeDecodeError:
        user = None
        shown = _shown(key)
    else:
        shown = _shown(user)
    if user != event.user_id:
        return Rejected(
            "wrong_key",
            f"the record key is {shown} but user_id is {_shown(event.user_id)}: key each record "
            "by its user_id (UTF-8), so that one user's events reach one partition in order",
        )
    return event


def _shown(value: object) -> str:
    """`value` quoted for a reason: its repr, cut to `MAX_SHOWN` characters."""
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text[:MAX_SHOWN] + "..." if len(text) > MAX_SHOWN else text


def check_arrival(event: Transaction, arrival_s: float) -> Transaction | Rejected:
    """The event, unless its time runs too far ahead of its arrival (the record's timestamp).

    `arrival_s` is the Kafka record's timestamp in seconds (the producer's CreateTime, or the
    broker's LogAppendTime); a record without one (negative) is not checked.
    """
    if arrival_s < 0:
        return event
    ahead = seconds_ahead(event.epoch_us, round(arrival_s * 1000) * 1000)
    if ahead is None:
        return event
    return Rejected(
        "ahead_of_arrival",
        f"timestamp {event.timestamp.isoformat()} is {ahead:,} s ahead of the record's timestamp "
        f"{datetime.fromtimestamp(arrival_s, UTC).isoformat()}; an event may be at most "
        f"{AHEAD_US // US} s ahead of its arrival: fix the sender's clock or the timestamp, and "
        "send the transaction again",
    )


def _validate(value: bytes) -> Transaction | Rejected:
    """The event in `value`, by orjson and the model's Python validation, or why there is none."""
    try:
        data = orjson.loads(value)  # (which takes UTF-8 only)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejected(
                "not_utf8", f"the value is not UTF-8 text ({bad.reason} at byte {bad.start})"
            )
        return Rejected("not_json", f"the value is not JSON: {exc}")
    if not isinstance(data, dict):
        return Rejected(
            "not_object", f"the value is JSON {type(data).__name__}, not one transaction object"
        )
    try:
        return Transaction.model_validate(data)
    except ValidationError as exc:
        return Rejected("invalid", describe(exc))


def describe(exc: ValidationError) -> str:
    """One sentence per failed field: where, what rule, which value."""
    parts = []
    errors = exc.errors(include_url=False)
    for error in errors[:MAX_ERRORS]:
        where = _cut(".".join(str(p) for p in error["loc"]) or "event")
        shown = _shown(error.get("input"))
        if error["type"] == "missing":
            parts.append(f"{where}: required field is missing")
        elif error["type"] == "extra_forbidden":
            parts.append(
                f"{where}: unknown field (got {shown}); the event schema has no such field"
            )
        else:
            parts.append(f"{where}: {error['msg']} (got {shown})")
    if len(errors) > MAX_ERRORS:
        parts.append(f"and {len(errors) - MAX_ERRORS} more errors")
    return "; ".join(parts)
