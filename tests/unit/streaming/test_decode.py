"""decode: pydantic's JSON parser decides, orjson and Python validation say why; both agree."""

from __future__ import annotations

import functools

import orjson
import pytest
from pydantic import ValidationError

from feature_repo.events import Transaction
from feature_repo.spec import MAX_AHEAD_OF_ARRIVAL
from streaming.decode import MAX_SHOWN, Rejected, check_arrival, decode
from streaming.records import DEAD_LETTER_MAX_BYTES, MAX_REASON_CHARS, dead_letter

GOOD = {
    "transaction_id": "tx-1", "user_id": "u1", "amount": 12.5, "currency": "EUR",
    "merchant_id": "m1", "merchant_category": "grocery",
    "timestamp": "2026-11-29T10:00:00.123456+01:00", "latitude": 48.1, "longitude": 11.5,
    "channel": "online", "used_chip": False, "used_pin": False,
}  # fmt: skip
RAW = orjson.dumps(GOOD)

# Values at the edges of what the two parsers might read differently.
EDGES = [
    RAW.replace(b"12.5", b"NaN"),
    RAW.replace(b"12.5", b"Infinity"),
    RAW.replace(b"12.5", b"1e400"),
    RAW.replace(b"12.5", b'"12.5"'),
    RAW.replace(b"12.5", b"1.25e1"),
    RAW.replace(b"12.5", b"-0.0"),
    RAW.replace(b"12.5", b"12345678901234567890123"),
    RAW.replace(b'"used_chip":false', b'"used_chip":"true"'),
    RAW.replace(b'"used_chip":false', b'"used_chip":1'),
    RAW.replace(b"}", b',"amount":13}'),  # a repeated key: the last one counts
    RAW.replace(b"}", b',"schema_version":1.0}'),
    RAW.replace(b"}", b',"schema_version":"1"}'),
    RAW.replace(b"}", b',"schema_version":true}'),
    RAW.replace(b"12.5", b"true"),
    RAW.replace(b"12.5", b"12"),
    RAW.replace(b"48.1", b'"48.1"'),
    RAW.replace(b'"used_pin":false', b'"used_pin":"no"'),
    RAW.replace(b"2026-11-29T10:00:00.123456+01:00", b"1999-12-31T23:30:00-01:00"),
    RAW.replace(b"2026-11-29T10:00:00.123456+01:00", b"0001-01-01T00:30:00+01:00"),
    RAW.replace(b'"m1"', b'"m\\u0000"'),
    RAW.replace(b'"m1"', b'"\\ud800"'),  # a lone surrogate
    RAW.replace(b'"m1"', b'"m\\u200b1"'),  # a zero-width space
    RAW.replace(b'"m1"', b'"m\xe2\x80\x8b1"'),  # the same, as UTF-8
    RAW.replace(b'"m1"', b'"  m1 "'),
    b"\xef\xbb\xbf" + RAW,  # a byte order mark
    b"  " + RAW + b"\n",
    RAW + b" x",
    RAW.replace(b"+01:00", b""),
    b"[" + RAW + b"]",
    b"\xff\xfe\x00garbage",
]


@pytest.mark.parametrize("raw", EDGES)
def test_json_and_python_validation_accept_the_same_events(raw: bytes) -> None:
    try:
        fast: Transaction | None = Transaction.model_validate_json(raw)
    except ValidationError:
        fast = None
    try:
        data = orjson.loads(raw)
        slow: Transaction | None = (
            Transaction.model_validate(data) if isinstance(data, dict) else None
        )
    except (orjson.JSONDecodeError, ValidationError):
        slow = None
    assert fast == slow
    result = decode(b"u1", raw, 16_384)
    if fast is None:
        assert isinstance(result, Rejected)
    else:
        assert result == fast


@pytest.mark.parametrize(
    ("raw", "kind", "says"),
    [
        (b"\xff\xfe\x00garbage", "not_utf8", "not UTF-8"),
        (b"{not json", "not_json", "not JSON"),
        (b"[1, 2]", "not_object", "JSON list"),
        (RAW.replace(b"12.5", b"-3"), "invalid", "amount"),
        (RAW.replace(b"}", b',"extra":1}'), "invalid", "unknown field"),
    ],
)
def test_a_refused_event_says_why(raw: bytes, kind: str, says: str) -> None:
    result = decode(b"u1", raw, 16_384)
    assert isinstance(result, Rejected)
    assert result.kind == kind and says in result.reason


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"amount": "12.5"}, "amount: Input should be a valid number"),
        ({"amount": True}, "amount: Input should be a valid number"),
        ({"latitude": "48.1"}, "latitude: Input should be a valid number"),
        ({"used_chip": "yes"}, "used_chip: Input should be a valid boolean"),
        ({"used_pin": 1}, "used_pin: Input should be a valid boolean"),
        ({"schema_version": 1.0}, "schema_version must be the integer 1"),
        ({"timestamp": "1970-01-01T00:00:00Z"}, "timestamp before 2000-01-01 is not a card"),
    ],
)
def test_mistyped_numbers_flags_and_ancient_times_are_refused(
    change: dict[str, object], says: str
) -> None:
    """The model's numbers and flags are strict, as the Spark job's typed columns are; an event
    time before 2000 is a data error (and would be a negative time in Feast's online rows)."""
    result = decode(b"u1", orjson.dumps(GOOD | change), 16_384)
    assert isinstance(result, Rejected) and result.kind == "invalid"
    assert says in result.reason, result.reason
    assert isinstance(decode(b"u1", orjson.dumps(GOOD | {"amount": 12}), 16_384), Transaction)


@pytest.mark.parametrize(
    ("user", "shown"),
    [("u\u200b1", "U+200B at position 1"), ("\ufeffu1", "U+FEFF at position 0"),
     ("u\x001", "U+0000 at position 1"), ("u\u202e1", "U+202E at position 1")],
)  # fmt: skip
def test_an_id_with_a_control_or_invisible_character_is_refused(user: str, shown: str) -> None:
    """Ids that print alike would otherwise be different users, rows and alerts."""
    result = decode(user.encode(), orjson.dumps(GOOD | {"user_id": user}), 16_384)
    assert isinstance(result, Rejected) and result.kind == "invalid"
    assert f"user_id: Value error, must not hold control or invisible characters: {shown}" in (
        result.reason
    ), result.reason


def test_an_event_under_another_key_is_refused() -> None:
    result = decode(b"u2", RAW, 16_384)
    assert isinstance(result, Rejected) and result.kind == "wrong_key"
    assert decode(b"u1", RAW, 16_384) == Transaction.model_validate(GOOD)


def test_a_key_that_is_not_utf8_is_refused_not_read_lossily() -> None:
    event = orjson.dumps(GOOD | {"user_id": "\ufffd"})
    result = decode(b"\xff", event, 16_384)
    assert isinstance(result, Rejected) and result.kind == "wrong_key"
    assert "b'\\xff'" in result.reason and "(UTF-8)" in result.reason


def test_the_key_counts_toward_the_size_and_reasons_stay_short() -> None:
    long_key = b"k" * 20_000
    result = decode(long_key, RAW, 16_384)
    assert isinstance(result, Rejected) and result.kind == "oversized"
    assert str(len(RAW) + len(long_key)) in result.reason
    result = decode(b"k" * 5_000, RAW, 16_384)  # within the size, not the user's key
    assert isinstance(result, Rejected) and result.kind == "wrong_key"
    assert len(result.reason) < 2 * MAX_SHOWN + 200
    many = orjson.dumps(GOOD | {f"{'x' * 500}{i}": i for i in range(30)})
    result = decode(b"u1", many, 65_536)
    assert isinstance(result, Rejected) and result.kind == "invalid"
    assert "and 20 more errors" in result.reason and len(result.reason) < 2_500


def test_a_dead_letter_keeps_the_original_bytes_and_fits_in_a_kafka_record() -> None:
    where = functools.partial(
        dead_letter, topic="transactions", partition=2, offset=41, kind="oversized"
    )
    key, value, headers = where(key=b"u1", value=RAW, reason="too big")
    assert (key, value) == (b"u1", RAW)
    assert dict(headers)["dlq.reason"] == b"too big" and "dlq.truncated" not in dict(headers)

    huge_key, huge_value = b"k" * 600_000, b"x" * 1_048_400
    key, value, headers = where(key=huge_key, value=huge_value, reason="r" * 100_000)
    assert key == huge_key[:1024] and value is not None and huge_value.startswith(value)
    size = len(key) + len(value) + sum(len(k) + len(v) for k, v in headers)
    assert 0.9 * DEAD_LETTER_MAX_BYTES < size <= DEAD_LETTER_MAX_BYTES
    said = dict(headers)
    assert len(said["dlq.reason"]) < MAX_REASON_CHARS + 50
    assert said["dlq.truncated"].startswith(b"key 600000 bytes, value 1048400 bytes")
    assert b"transactions partition 2 offset 41" in said["dlq.truncated"]


def test_an_event_far_ahead_of_its_record_timestamp_is_refused() -> None:
    event = decode(b"u1", RAW, 10_000)
    assert isinstance(event, Transaction)
    sent = event.timestamp.timestamp()  # the record's timestamp, in seconds
    limit = MAX_AHEAD_OF_ARRIVAL.total_seconds()
    assert check_arrival(event, sent) is event
    # At most the limit ahead (the record's timestamp is in milliseconds): a drifting clock.
    assert check_arrival(event, sent - limit + 0.001) is event
    assert check_arrival(event, -1.0) is event  # a record without a timestamp: not checked
    refused = check_arrival(event, sent - limit - 1)
    assert isinstance(refused, Rejected) and refused.kind == "ahead_of_arrival"
    assert refused.reason.startswith("timestamp 2026-11-29T10:00:00.123456+01:00 is 901 s ahead")
    assert "2026-11-29T08:44:59" in refused.reason and "fix the sender's clock" in refused.reason
