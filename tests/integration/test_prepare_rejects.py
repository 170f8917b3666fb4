"""Rows that break the event schema go to the rejected output with a reason, not into features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from batch_pipeline.data.generate import generate
from batch_pipeline.data.prepare import PrepareError, prepare
from feature_repo.replay import arrival_order, replay
from feature_repo.spec import EVENT_FEATURES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.spark, pytest.mark.slow]

BAD = {
    "amount must be > 0": {"amount": -5.0},
    "timestamp must be RFC 3339 with a zone, e.g. 2026-11-01T09:12:33+01:00": {
        "timestamp": "2026-09-02 10:00:00"
    },
    "timestamp is not a real date and time": {"timestamp": "2026-02-30T10:00:00+01:00"},
    "latitude must be within -90..90": {"latitude": 123.0},
    "channel must be one of online, pos, atm": {"channel": "fax"},
    "currency must be a 3-letter ISO code like EUR": {"currency": "euro"},
    "user_id is missing": {"user_id": ""},
    "user_id is longer than 128 characters": {"user_id": "u" * 129},
    "merchant_category is longer than 64 characters": {"merchant_category": "c" * 65},
}


def test_bad_rows_are_rejected_with_reasons_and_counted(
    spark: SparkSession, tmp_path: Path
) -> None:
    generate(users=30, days=5, seed=3, out=tmp_path / "raw", progress=False)
    path = tmp_path / "raw" / "transactions.parquet"
    raw = pd.read_parquet(path)
    bad_rows = []
    for i, change in enumerate(BAD.values()):
        row = raw.iloc[i].to_dict() | change | {"transaction_id": f"bad-{i}"}
        bad_rows.append(row)
    duplicate = raw.iloc[[10]].assign(
        ingested_at=raw["ingested_at"].iloc[10] + pd.Timedelta(1, "s")
    )
    pd.concat([raw, pd.DataFrame(bad_rows), duplicate], ignore_index=True).astype(
        raw.dtypes.to_dict()
    ).to_parquet(path, index=False)

    summary = prepare(spark, tmp_path / "raw", tmp_path / "out")

    rejected = pd.read_parquet(tmp_path / "out" / "rejected")
    by_id = dict(zip(rejected["transaction_id"], rejected["reason"], strict=True))
    for i, reason in enumerate(BAD):
        assert by_id[f"bad-{i}"] == reason
    # The stream's model (feature_repo.events.Transaction) refuses the same rows.
    _, python_rejected = replay(arrival_order(pd.read_parquet(path)).to_dict("records"))
    assert {f"bad-{i}" for i in range(len(BAD))} <= set(python_rejected["transaction_id"])
    assert "duplicate transaction_id (an earlier copy was kept)" in summary.rejected
    features = pd.read_parquet(tmp_path / "out" / "transaction_features")
    assert not features["transaction_id"].str.startswith("bad-").any()
    assert (
        summary.accepted
        == len(features)
        == len(raw)
        - summary.rejected.get(
            next((r for r in summary.rejected if r.startswith("arrived later")), ""), 0
        )
    )
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(written["rejected"].values()) == len(rejected)


def test_missing_columns_say_which(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    pd.DataFrame({"transaction_id": ["a"], "amount": [1.0]}).to_parquet(
        tmp_path / "raw" / "transactions.parquet"
    )
    with pytest.raises(PrepareError, match="lacks the event columns .*'user_id'"):
        prepare(spark, tmp_path / "raw", tmp_path / "out")


def test_text_with_surrounding_whitespace_is_read_as_the_stream_reads_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The event model strips its text fields, so " u1\\u00a0" is user u1 to the stream: the Spark
    job must see the same user, currency and merchant, and compute the same features."""
    generate(users=30, days=5, seed=5, out=tmp_path / "raw", progress=False)
    path = tmp_path / "raw" / "transactions.parquet"
    raw = pd.read_parquet(path)
    padded = raw.index[::4]
    for name, pad in [
        ("user_id", " {}\u00a0"), ("merchant_id", "\t{}\u2003"), ("currency", "{} "),
        ("merchant_category", "\n{}"), ("transaction_id", "{}\r\n"),
    ]:  # fmt: skip
        raw.loc[padded, name] = raw.loc[padded, name].map(pad.format)
    raw.to_parquet(path, index=False)

    summary = prepare(spark, tmp_path / "raw", tmp_path / "out")

    python, python_rejected = replay(arrival_order(raw).to_dict("records"))
    spark_features = pd.read_parquet(tmp_path / "out" / "transaction_features")
    assert summary.accepted == len(spark_features) == len(python) > 0.9 * len(raw)
    assert set(spark_features["user_id"]) == {u.strip() for u in raw["user_id"]}
    both = spark_features.merge(python, on="transaction_id", suffixes=("_spark", "_python"))
    assert len(both) == len(python)
    for name in EVENT_FEATURES:
        a, b = both[f"{name}_spark"].to_numpy(float), both[f"{name}_python"].to_numpy(float)
        assert np.isclose(a, b, rtol=1e-9, atol=1e-6).all(), name
