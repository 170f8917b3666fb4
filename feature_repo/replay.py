"""Replay a history of raw events through the incremental code, exactly as the stream would.

Events are taken in arrival order (`ingested_at`, then `transaction_id`; the stream's order is the
topic's offsets), and an event whose time runs ahead of its `ingested_at` by more than the spec
allows is refused, as the stream refuses one ahead of its record's timestamp. The result has one
row per accepted event with every feature that does not need the profile, and the rejected events
with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from pydantic import ValidationError

from feature_repo.activity import Duplicate, TooLate, UserActivityState, seconds_ahead
from feature_repo.events import Transaction
from feature_repo.spec import EVENT_FEATURES
from feature_repo.vectors import event_features

EVENT_FIELDS = tuple(Transaction.model_fields)


def arrival_order(raw: pd.DataFrame) -> pd.DataFrame:
    if "ingested_at" not in raw.columns:
        return raw.reset_index(drop=True)
    return raw.sort_values(["ingested_at", "transaction_id"], kind="stable").reset_index(drop=True)


def replay(
    records: Iterable[Mapping[str, Any]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply records (dicts of event fields) in the given order; return (features, rejected)."""
    states: dict[str, UserActivityState] = {}
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    for record in records:
        fields = {k: record[k] for k in EVENT_FIELDS if k in record}
        try:
            event = Transaction.model_validate(fields)
        except ValidationError as exc:
            rejected.append(
                {"transaction_id": str(record.get("transaction_id")), "reason": str(exc)}
            )
            continue
        arrived = record.get("ingested_at")
        if arrived is not None and not pd.isna(arrived):
            ahead = seconds_ahead(event.epoch_us, pd.Timestamp(arrived).value // 1000)
            if ahead is not None:
                reason = f"event time {ahead} s ahead of its arrival (ingested_at)"
                rejected.append({"transaction_id": event.transaction_id, "reason": reason})
                continue
        state = states.setdefault(event.user_id, UserActivityState())
        try:
            activity = state.apply(
                transaction_id=event.transaction_id,
                ts_us=event.epoch_us,
                amount=event.amount,
                latitude=event.latitude,
                longitude=event.longitude,
                merchant_id=event.merchant_id,
            )
        except (TooLate, Duplicate) as exc:
            rejected.append({"transaction_id": event.transaction_id, "reason": str(exc)})
            continue
        features = event_features(event, activity, None)
        rows.append(
            {"transaction_id": event.transaction_id, **{n: features[n] for n in EVENT_FEATURES}}
        )
    return (
        pd.DataFrame(rows, columns=["transaction_id", *EVENT_FEATURES]),
        pd.DataFrame(rejected, columns=["transaction_id", "reason"]),
    )
