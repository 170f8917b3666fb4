"""What the worker writes: score records, alerts (DESIGN.md's contract) and dead letters.

All three are plain JSON (dead letters: the original bytes) keyed by user_id, so any Kafka client
reads them. An alert's id is a UUID5 of its transaction id: the same transaction always gets the
same alert id, which is how the worker, and any consumer, recognises a repeat.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from feature_repo.events import Transaction
from feature_repo.spec import FEATURE_NAMES

ALERT_NAMESPACE = uuid.UUID("6f1c1f0e-3c55-4c1e-9b6e-2f7a8f0d6a11")
SCHEMA_VERSION = 1


def alert_id(transaction_id: str) -> str:
    """The deterministic id of the alert a transaction can raise."""
    return str(uuid.uuid5(ALERT_NAMESPACE, transaction_id))


@dataclass(slots=True)  # not frozen: made for every event, and frozen costs a setattr a field
class Scored:
    """One event's result, before it is written."""

    event: Transaction
    partition: int
    offset: int
    score: float
    threshold: float
    model_name: str
    model_version: str
    degraded: bool
    features: list[float]
    scored_at_s: float
    timings_ms: dict[str, float]

    @property
    def is_alert(self) -> bool:
        return self.score >= self.threshold

    @property
    def key(self) -> bytes:
        """The Kafka key of its score record and alert: the user, as the transaction's."""
        return self.event.user_id.encode()


@functools.lru_cache(maxsize=64)  # a batch's records share their scored_at
def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def score_record(s: Scored) -> bytes:
    """The `transaction-scores` value: every scored event, alert or not."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "transaction_id": s.event.transaction_id,
            "user_id": s.event.user_id,
            "event_timestamp": s.event.timestamp.isoformat(),
            "score": round(s.score, 6),
            "threshold": s.threshold,
            "decision": "alert" if s.is_alert else "pass",
            "model_name": s.model_name,
            "model_version": s.model_version,
            "degraded": s.degraded,
            "features": dict(zip(FEATURE_NAMES, s.features, strict=True)),
            "scored_at": _iso(s.scored_at_s),
            "timings_ms": s.timings_ms,
            "source": {"partition": s.partition, "offset": s.offset},
        }
    )


def alert_record(s: Scored, reasons: list[dict[str, Any]]) -> bytes:
    """The `fraud-alerts` value, in DESIGN.md's alert contract."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "alert_id": alert_id(s.event.transaction_id),
            "transaction_id": s.event.transaction_id,
            "user_id": s.event.user_id,
            "score": round(s.score, 6),
            "threshold": s.threshold,
            "model_name": s.model_name,
            "model_version": s.model_version,
            "event_timestamp": s.event.timestamp.isoformat(),
            "scored_at": _iso(s.scored_at_s),
            "reasons": reasons,
            "degraded": s.degraded,
            "amount": s.event.amount,
            "currency": s.event.currency,
            "merchant_id": s.event.merchant_id,
        }
    )


# A dead letter must fit in one Kafka record: the broker refuses one over its `message.max.bytes`
# (1,048,588 bytes by default), and the batch would fail with it. The original record was within
# the source topic's limit, but the dead letter adds its headers (and its reason may quote the
# key). So a larger original is cut to fit, and says so; the whole of it stays in the source topic
# at the partition and offset the headers give.
DEAD_LETTER_MAX_BYTES = 1_000_000
MAX_REASON_CHARS = 2_000  # a reason is a sentence or a few, never a copy of the input
_KEEP_KEY_BYTES = 1_024  # of a key too long for the dead letter


def dead_letter(
    *, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
    kind: str, reason: str,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:  # fmt: skip
    """The dead letter of a record: its key, value and headers.

    The key and value are the original record's, byte for byte, unless together with the headers
    they would pass `DEAD_LETTER_MAX_BYTES`: then they are cut to fit (the key first, to 1 KiB)
    and the header `dlq.truncated` gives their original sizes."""
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + f"... ({len(reason):,} characters in all)"
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.kind", kind.encode()),
        ("dlq.topic", topic.encode()),
        ("dlq.partition", str(partition).encode()),
        ("dlq.offset", str(offset).encode()),
        ("dlq.at", _iso(datetime.now(UTC).timestamp()).encode()),
    ]
    key_bytes, value_bytes = len(key or b""), len(value or b"")
    if key_bytes + value_bytes + _size(headers) <= DEAD_LETTER_MAX_BYTES:
        return key, value, headers
    headers.append(
        ("dlq.truncated", f"key {key_bytes} bytes, value {value_bytes} bytes; the whole record "
         f"is at {topic} partition {partition} offset {offset}".encode())
    )  # fmt: skip
    if key is not None and key_bytes > _KEEP_KEY_BYTES:
        key = key[:_KEEP_KEY_BYTES]
    if value is not None:
        value = value[: max(DEAD_LETTER_MAX_BYTES - _size(headers) - len(key or b""), 0)]
    return key, value, headers


def _size(headers: list[tuple[str, bytes]]) -> int:
    return sum(len(name) + len(value) for name, value in headers)
