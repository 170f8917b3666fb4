"""The training set: transactions joined point-in-time with profiles through Feast, plus labels.

Activity and event features come from the Spark job, one row per transaction; the profile comes
from Feast's `get_historical_features` (the latest snapshot available at the transaction's time);
the features that need the profile are derived with the same code the stream and the predictor
use. The label is joined last and never becomes a feature.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from feast import FeatureStore

from feature_repo.feature_views import PROFILE_VIEW
from feature_repo.spec import FEATURE_NAMES, PROFILE_FEATURES, PROFILE_STORED
from feature_repo.vectors import profile_derived

KEYS = ["transaction_id", "user_id", "event_timestamp"]
LABELS = ["is_fraud", "label_available_at"]


def with_profile(store: FeatureStore, transactions: pd.DataFrame) -> pd.DataFrame:
    """Add the point-in-time profile and the features derived from it to per-transaction rows."""
    entity = transactions[KEYS]
    historical = store.get_historical_features(
        entity_df=entity, features=[f"{PROFILE_VIEW}:{n}" for n in PROFILE_STORED]
    ).to_df()
    # Feast's file offline store returns only the rows it found a profile for; joining back on
    # the transaction keeps every transaction (those without a profile get has_profile = 0).
    rows = transactions.merge(
        historical[["transaction_id", *PROFILE_STORED]], on="transaction_id", how="left"
    )
    has_profile = rows["amount_median_90d"].notna().to_numpy()
    rows["has_profile"] = has_profile.astype(np.float64)
    for name in PROFILE_FEATURES[1:]:
        rows[name] = rows[name].fillna(0.0)
    derived = profile_derived(
        rows["amount"].to_numpy(), rows["latitude"].to_numpy(), rows["longitude"].to_numpy(),
        has_profile, rows["home_latitude"].to_numpy(), rows["home_longitude"].to_numpy(),
        rows["amount_median_90d"].to_numpy(),
    )  # fmt: skip
    for name, values in derived.items():
        rows[name] = values
    return rows


def attach_labels(
    rows: pd.DataFrame, labels: pd.DataFrame, known_at: datetime | None = None
) -> pd.DataFrame:
    """Add `is_fraud` as known at `known_at` (all labels when None): unknown fraud counts as 0."""
    carried = [c for c in (*LABELS, "fraud_pattern") if c in labels.columns]
    merged = rows.merge(labels[["transaction_id", *carried]], on="transaction_id", how="left")
    fraud = merged["is_fraud"].fillna(False).astype(bool)
    if known_at is not None:
        fraud &= merged["label_available_at"] <= pd.Timestamp(known_at)
    merged["is_fraud"] = fraud.astype(np.int8)
    return merged


def build_training_set(
    store: FeatureStore, prepared: Path, known_at: datetime | None = None
) -> pd.DataFrame:
    """Transactions, their full feature vectors in spec order, and labels, in event-time order."""
    transactions = pd.read_parquet(prepared / "transaction_features")
    rows = with_profile(store, transactions)
    labels_dir = prepared / "labels"
    if labels_dir.exists():
        rows = attach_labels(rows, pd.read_parquet(labels_dir), known_at)
    extra = [c for c in ("is_fraud", "label_available_at", "fraud_pattern") if c in rows.columns]
    ordered = rows[[*KEYS, *FEATURE_NAMES, *extra]]
    return ordered.sort_values(["event_timestamp", "transaction_id"]).reset_index(drop=True)
