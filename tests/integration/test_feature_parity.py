"""The Spark job and the stream's incremental code agree on every feature of every transaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from batch_pipeline.data.prepare import prepare
from feature_repo.replay import arrival_order, replay
from feature_repo.spec import ALLOWED_LATENESS, EVENT_FEATURES, FEATURE_NAMES, PROFILE_WINDOW
from tests.integration.conftest import PreparedWorld

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _raw(world: PreparedWorld) -> pd.DataFrame:
    return pd.read_parquet(world.raw / "transactions.parquet")


def test_history_has_out_of_order_and_too_late_arrivals(prepared_world: PreparedWorld) -> None:
    raw = arrival_order(_raw(prepared_world))
    ts = pd.to_datetime(raw["timestamp"], utc=True)
    behind = ts.groupby(raw["user_id"]).cummax().groupby(raw["user_id"]).shift(1) - ts
    out_of_order = (behind > pd.Timedelta(0)) & (behind <= ALLOWED_LATENESS)
    assert len(raw) >= 10_000
    assert out_of_order.sum() >= 30
    assert (behind > ALLOWED_LATENESS).sum() >= 1


def test_spark_and_incremental_code_give_the_same_features(prepared_world: PreparedWorld) -> None:
    raw = _raw(prepared_world)
    python, python_rejected = replay(arrival_order(raw).to_dict("records"))
    spark = pd.read_parquet(prepared_world.out / "transaction_features")
    spark_rejected = pd.read_parquet(prepared_world.out / "rejected")

    assert set(spark["transaction_id"]) == set(python["transaction_id"])
    assert set(spark_rejected["transaction_id"]) == set(python_rejected["transaction_id"])
    both = spark.merge(python, on="transaction_id", suffixes=("_spark", "_python"))
    assert len(both) == len(spark)
    mismatched = {}
    for name in EVENT_FEATURES:
        a, b = both[f"{name}_spark"].to_numpy(float), both[f"{name}_python"].to_numpy(float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-6)
        if bad.any():
            mismatched[name] = both.loc[bad, ["transaction_id", f"{name}_spark", f"{name}_python"]]
    assert not mismatched, mismatched
    # Every feature the stream computes without the profile was compared.
    assert set(EVENT_FEATURES) <= set(FEATURE_NAMES) and len(EVENT_FEATURES) >= 15


def test_profile_snapshots_match_a_pandas_reference(prepared_world: PreparedWorld) -> None:
    spark = pd.read_parquet(prepared_world.out / "user_profile")
    accepted = pd.read_parquet(prepared_world.out / "transaction_features")
    sample = spark.sample(n=40, random_state=3)
    for row in sample.itertuples():
        midnight = row.event_timestamp.normalize()
        window = accepted[
            (accepted["user_id"] == row.user_id)
            & (accepted["event_timestamp"] < midnight)
            & (accepted["event_timestamp"] >= midnight - PROFILE_WINDOW)
        ]
        assert len(window) == row.tx_count_90d
        assert window["amount"].median() == pytest.approx(row.amount_median_90d)
        assert window["amount"].mean() == pytest.approx(row.amount_mean_90d)
        std = window["amount"].std() if len(window) > 1 else 0.0
        assert std == pytest.approx(row.amount_std_90d)
        assert window["merchant_id"].nunique() == row.distinct_merchants_90d
        assert window["latitude"].median() == pytest.approx(row.home_latitude)
        # Stamped when the nightly job has run, never at or before the events it covers.
        assert (window["event_timestamp"] < row.event_timestamp).all()


def test_a_later_event_never_changes_an_earlier_transactions_features(
    prepared_world: PreparedWorld, spark: SparkSession, tmp_path: Path
) -> None:
    raw = _raw(prepared_world)
    ts = pd.to_datetime(raw["timestamp"], utc=True)
    cutoff = ts.quantile(0.6)
    changed = raw.copy()
    later = ts > cutoff
    changed.loc[later, "amount"] = changed.loc[later, "amount"] * 7 + 1
    changed.loc[later, "merchant_id"] = "m-after-cutoff"
    # New events that happen after the cutoff, arriving after everything already there.
    extra = raw[later].head(500).copy()
    extra["transaction_id"] = "new-" + extra["transaction_id"]
    extra["ingested_at"] = raw["ingested_at"].max() + pd.Timedelta(seconds=1)
    changed = pd.concat([changed, extra], ignore_index=True)
    (tmp_path / "raw").mkdir()
    changed.to_parquet(
        tmp_path / "raw" / "transactions.parquet", index=False, coerce_timestamps="us"
    )

    prepare(spark, tmp_path / "raw", tmp_path / "out")
    before = pd.read_parquet(prepared_world.out / "transaction_features")
    after = pd.read_parquet(tmp_path / "out" / "transaction_features")
    early_ids = set(raw.loc[~later, "transaction_id"]) & set(before["transaction_id"])
    b = before[before["transaction_id"].isin(early_ids)].sort_values("transaction_id")
    a = after[after["transaction_id"].isin(early_ids)].sort_values("transaction_id")
    assert len(a) == len(b) > 1000
    for name in EVENT_FEATURES:
        np.testing.assert_allclose(a[name].to_numpy(float), b[name].to_numpy(float), err_msg=name)
    # ...while the later transactions did change.
    late_ids = set(raw.loc[later, "transaction_id"])
    assert not np.allclose(
        before[before["transaction_id"].isin(late_ids)].sort_values("transaction_id")["amount"],
        after[after["transaction_id"].isin(late_ids)].sort_values("transaction_id")["amount"],
    )
