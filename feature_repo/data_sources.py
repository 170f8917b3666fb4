"""Feast data sources: the Spark job's outputs (batch) and the stream's push source (fresh).

Paths are relative to the repository root given to Feast (`feature_repo/` for the `feast` CLI,
whose data then lives in `feature_repo/data/`), or absolute when a caller builds them elsewhere.
"""

from __future__ import annotations

from feast import FileSource, PushSource

PROFILE_DIR = "user_profile"
ACTIVITY_DIR = "transaction_features"
PUSH_SOURCE = "user_activity_push"


def profile_source(data_root: str) -> FileSource:
    """Daily 90-day profile snapshots, stamped with when each becomes available."""
    return FileSource(
        name="user_profile_snapshots",
        path=f"{data_root}/{PROFILE_DIR}",
        timestamp_field="event_timestamp",
        description="Written by `fraud data prepare` (batch_pipeline.data.spark_features).",
    )


def activity_source(data_root: str) -> FileSource:
    """Per-transaction activity as Spark recomputed it for history."""
    return FileSource(
        name="transaction_activity",
        path=f"{data_root}/{ACTIVITY_DIR}",
        timestamp_field="event_timestamp",
        description="Written by `fraud data prepare`; the stream pushes the same columns live.",
    )


def activity_push(data_root: str) -> PushSource:
    """Where the stream pushes each user's fresh activity row."""
    return PushSource(name=PUSH_SOURCE, batch_source=activity_source(data_root))
