"""`fraud data prepare`: raw transactions to point-in-time features, with Spark.

Outputs (parquet folders under OUT), the batch sources of the Feast repository:
- `transaction_features/`: one row per accepted transaction: its activity and event features,
  each computed from that user's transactions up to and including it, as known when it arrived;
- `user_profile/`: daily snapshots per user over the preceding 90 days, stamped with the time
  they become available, so a point-in-time join never sees the future;
- `labels/`: transaction_id, is_fraud, label_available_at (when the raw data has labels);
- `rejected/`: rows that break the schema, events whose time runs ahead of their arrival
  (`ingested_at`) by more than `MAX_AHEAD_OF_ARRIVAL`, duplicates and events later than the
  allowed lateness, each with its reason; `summary.json`: the counts.

The rules are those of `feature_repo.spec` and `feature_repo.activity`; the parity test holds this
job and the stream's incremental code to the same values for every feature.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batch_pipeline.data.spark_features import (
    US,
    activity_features,
    event_features,
    profile_snapshots,
)
from batch_pipeline.data.validate import (
    COLUMN_KINDS,
    missing_columns,
    mistyped_columns,
    rejection_reason,
    strip_text,
)
from feature_repo.activity import AHEAD_US, LATENESS_US  # the spec's rules, as the stream's

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


class PrepareError(ValueError):
    """The raw input cannot be prepared; the message says what to fix."""


@dataclass(frozen=True)
class PrepareSummary:
    input_rows: int
    accepted: int
    rejected: dict[str, int]
    profile_rows: int
    label_rows: int
    seconds: float
    out: str


def read_raw(
    spark: SparkSession, raw: Path
) -> tuple[DataFrame, DataFrame | None, DataFrame | None]:
    path = raw / "transactions.parquet"
    if not path.exists():
        raise PrepareError(f"{path} not found: point --raw at the output of `fraud data generate`")
    tx = _read(spark, path)
    missing = missing_columns(tx)
    if missing:
        raise PrepareError(f"{path} lacks the event columns {missing} (see feature_repo/events.py)")
    if wrong := mistyped_columns(tx):
        found = ", ".join(
            f"{name} ({kind}, not {COLUMN_KINDS[name]})" for name, kind in wrong.items()
        )
        raise PrepareError(
            f"{path}: the event's fields must be columns of its types, found {found} (the "
            "stream dead-letters an event whose ids are numbers, whose amount is text or whose "
            "flags are not true or false, and reads its timestamp as RFC 3339 text with a "
            "zone); write each as its type: text as strings"
        )
    users = raw / "users.parquet"
    labels = raw / "labels.parquet"
    return (
        tx,
        _read(spark, users) if users.exists() else None,
        _read(spark, labels) if labels.exists() else None,
    )


def _read(spark: SparkSession, path: Path) -> DataFrame:
    from pyspark.errors import AnalysisException

    try:
        return spark.read.parquet(str(path))
    except AnalysisException as exc:
        problem = str(exc).strip().splitlines()[0]
        hint = (
            "; write its times in microseconds, e.g. pandas' to_parquet(..., "
            "coerce_timestamps='us', allow_truncated_timestamps=True)"
            if "NANOS" in problem
            else ""
        )
        raise PrepareError(f"Spark cannot read {path}: {problem}{hint}") from exc


def accept(tx: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Split raw rows into accepted events (with arrival rank) and rejected rows with a reason."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tx = strip_text(tx)
    if "ingested_at" not in tx.columns:
        # Without an arrival time, events are taken to arrive at their event time.
        tx = tx.withColumn("ingested_at", F.try_to_timestamp(F.col("timestamp")))
    checked = tx.withColumn("reason", rejection_reason(tx)).withColumn(
        "detail", F.lit(None).cast("string")
    )
    invalid = checked.where(F.col("reason").isNotNull())
    # try_: a filter on ts_us below may be evaluated with the one on reason, on invalid rows too
    valid = checked.where(F.col("reason").isNull()).withColumn(
        "ts_us", F.unix_micros(F.try_to_timestamp(F.col("timestamp")))
    )
    # Before the duplicates and the lateness: the stream refuses such an event as it decodes it,
    # so it takes no transaction_id and never becomes its user's latest event time.
    ahead_us = F.col("ts_us") - F.unix_micros("ingested_at")
    ahead = F.coalesce(ahead_us > F.lit(AHEAD_US), F.lit(False))  # no arrival time: not checked
    early = (
        valid.where(ahead)
        .withColumn(
            "reason",
            F.lit(
                f"event time more than the allowed {AHEAD_US // US} s ahead of its arrival "
                "(ingested_at)"
            ),
        )
        .withColumn("detail", F.format_string("%d s ahead", F.floor(ahead_us / US)))
    )
    valid = valid.where(~ahead)
    first = Window.partitionBy("transaction_id").orderBy("ingested_at", "ts_us")
    valid = valid.withColumn("copy", F.row_number().over(first))
    duplicates = valid.where(F.col("copy") > 1).withColumn(
        "reason", F.lit("duplicate transaction_id (an earlier copy was kept)")
    )
    valid = valid.where(F.col("copy") == 1)

    arrival = Window.partitionBy("user_id").orderBy("ingested_at", "transaction_id")
    before = arrival.rowsBetween(Window.unboundedPreceding, -1)
    ranked = valid.withColumn("arr", F.row_number().over(arrival)).withColumn(
        "latest_before_us", F.max("ts_us").over(before)
    )
    too_late = F.col("ts_us") < F.col("latest_before_us") - F.lit(LATENESS_US)
    late = (
        ranked.where(too_late)
        .withColumn(
            "reason",
            F.lit(
                f"arrived later than the allowed lateness ({LATENESS_US // US} s) behind the "
                "user's latest event time"
            ),
        )
        .withColumn(
            "detail",
            F.format_string(
                "%d s behind", ((F.col("latest_before_us") - F.col("ts_us")) / US).cast("long")
            ),
        )
    )
    accepted = ranked.where(~too_late | F.col("latest_before_us").isNull())
    keep = [*tx.columns, "reason", "detail"]
    rejected = (
        invalid.select(keep)
        .unionByName(early.select(keep))
        .unionByName(duplicates.select(keep))
        .unionByName(late.select(keep))
    )
    return accepted.drop("reason", "detail", "copy", "latest_before_us"), rejected


def prepare(spark: SparkSession, raw: Path, out: Path) -> PrepareSummary:
    """Run the whole preparation and write its outputs (see the module docstring)."""
    started = time.monotonic()
    tx, users, labels = read_raw(spark, raw)
    accepted, rejected = accept(tx)
    accepted = accepted.persist()
    features = event_features(accepted).join(activity_features(accepted), "transaction_id")
    features.write.mode("overwrite").parquet(str(out / "transaction_features"))
    profile = profile_snapshots(accepted, users)
    profile.write.mode("overwrite").parquet(str(out / "user_profile"))
    rejected.write.mode("overwrite").parquet(str(out / "rejected"))
    label_rows = 0
    if labels is not None:
        labels = labels.select("transaction_id", "is_fraud", "label_available_at")
        if "fraud_pattern" in tx.columns:
            # The generator's ground truth travels with the labels, never with the features.
            labels = labels.join(
                tx.select("transaction_id", "fraud_pattern").dropDuplicates(["transaction_id"]),
                "transaction_id",
                "left",
            )
        labels.write.mode("overwrite").parquet(str(out / "labels"))
        label_rows = spark.read.parquet(str(out / "labels")).count()
    reasons = {
        r["reason"]: r["count"]
        for r in spark.read.parquet(str(out / "rejected")).groupBy("reason").count().collect()
    }
    summary = PrepareSummary(
        input_rows=tx.count(),
        accepted=spark.read.parquet(str(out / "transaction_features")).count(),
        rejected=reasons,
        profile_rows=spark.read.parquet(str(out / "user_profile")).count(),
        label_rows=label_rows,
        seconds=round(time.monotonic() - started, 1),
        out=str(out),
    )
    accepted.unpersist()
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2))
    log.info("prepared %s", summary)
    return summary
