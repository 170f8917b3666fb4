"""decode: pydantic's JSON parser decides, orjson and Python validation say why; both agree."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from feature_repo.events import Transaction
from feature_repo.spec import MAX_AHEAD_OF_ARRIVAL
from streaming.decode import Rejected, check_arrival, decode

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
    RAW.replace(b'"m1"', b'"m\\u0000"'),
    RAW.replace(b'"m1"', b'"\\ud800"'),  # a lone surrogate
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


def test_an_event_under_another_key_is_refused() -> None:
    result = decode(b"u2", RAW, 16_384)
    assert isinstance(result, Rejected) and result.kind == "wrong_key"
    assert decode(b"u1", RAW, 16_384) == Transaction.model_validate(GOOD)


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
