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


def dead_letter_headers(
    *, topic: str, partition: int, offset: int, kind: str, reason: str
) -> list[tuple[str, bytes]]:
    """Headers of a dead letter, whose key and value are the original record's, byte for byte."""
    return [
        ("dlq.reason", reason.encode()),
        ("dlq.kind", kind.encode()),
        ("dlq.topic", topic.encode()),
        ("dlq.partition", str(partition).encode()),
        ("dlq.offset", str(offset).encode()),
        ("dlq.at", _iso(datetime.now(UTC).timestamp()).encode()),
    ]
