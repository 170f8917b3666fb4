"""Rows that break the event schema go to the rejected output with a reason, not into features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from batch_pipeline.data.generate import generate
from batch_pipeline.data.prepare import PrepareError, prepare
from batch_pipeline.data.validate import rejection_reason, strip_text
from feature_repo.events import Transaction
from feature_repo.replay import arrival_order, replay
from feature_repo.spec import EVENT_FEATURES, MAX_AHEAD_OF_ARRIVAL

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


def _generated(tmp_path: Path, days: int, seed: int) -> tuple[Path, pd.DataFrame]:
    """A generated data set of 30 users under tmp_path/raw: its transactions' path and rows."""
    generate(users=30, days=days, seed=seed, out=tmp_path / "raw", progress=False)
    path = tmp_path / "raw" / "transactions.parquet"
    return path, pd.read_parquet(path)


def test_bad_rows_are_rejected_with_reasons_and_counted(
    spark: SparkSession, tmp_path: Path
) -> None:
    path, raw = _generated(tmp_path, days=5, seed=3)
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


def test_events_ahead_of_their_arrival_are_refused_as_the_stream_refuses_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    """An event dated more than MAX_AHEAD_OF_ARRIVAL after its `ingested_at` is refused by the
    Spark job and the replay alike, and does not lock its user out: one dated 9999, arriving
    first, would otherwise have made every later event of its user too late."""
    path, raw = _generated(tmp_path, days=5, seed=7)
    _, before = replay(arrival_order(raw).to_dict("records"))  # the history's own rejections
    last = (raw["ingested_at"].max() + pd.Timedelta(1, "s")).ceil("s")  # whole, as event times

    def utc(moment: pd.Timestamp) -> str:
        return f"{moment.tz_convert('UTC'):%Y-%m-%dT%H:%M:%S}Z"

    user = raw["user_id"].iloc[0]
    first = raw.loc[raw["user_id"] == user, "ingested_at"].min() - pd.Timedelta(1, "s")
    added = {  # transaction_id: (user_id, event time, arrival), each after the rest of its user's
        "ahead-by-the-limit": (raw["user_id"].iloc[1], utc(last + MAX_AHEAD_OF_ARRIVAL), last),
        "ahead-past-the-limit": (
            raw["user_id"].iloc[2],
            utc(last + MAX_AHEAD_OF_ARRIVAL + pd.Timedelta(1, "s")),
            last,
        ),
        "dated-9999": (user, "9999-12-31T23:59:59Z", first),  # before the rest of its user's
    }
    rows = [
        raw.iloc[0].to_dict()
        | {"transaction_id": t, "user_id": u, "timestamp": ts, "ingested_at": at}
        for t, (u, ts, at) in added.items()
    ]
    raw = pd.concat([raw, pd.DataFrame(rows)], ignore_index=True).astype(raw.dtypes.to_dict())
    raw.to_parquet(path, index=False)

    summary = prepare(spark, tmp_path / "raw", tmp_path / "out")

    rejected = pd.read_parquet(tmp_path / "out" / "rejected").set_index("transaction_id")
    ahead = {"ahead-past-the-limit", "dated-9999"}
    assert set(rejected.index) == set(before["transaction_id"]) | ahead
    reason = (
        f"event time more than the allowed {MAX_AHEAD_OF_ARRIVAL.seconds} s ahead of its arrival"
    )
    assert all(rejected.loc[t, "reason"].startswith(reason) for t in ahead)
    assert (
        rejected.loc["ahead-past-the-limit", "detail"]
        == f"{MAX_AHEAD_OF_ARRIVAL.seconds + 1} s ahead"
    )
    python, python_rejected = replay(arrival_order(raw).to_dict("records"))
    assert set(python_rejected["transaction_id"]) == set(rejected.index)
    spark_features = pd.read_parquet(tmp_path / "out" / "transaction_features")
    assert summary.accepted == len(spark_features) == len(python)
    assert "ahead-by-the-limit" in set(spark_features["transaction_id"])
    both = spark_features.merge(python, on="transaction_id", suffixes=("_spark", "_python"))
    assert len(both) == len(python)
    for name in EVENT_FEATURES:
        a, b = both[f"{name}_spark"].to_numpy(float), both[f"{name}_python"].to_numpy(float)
        assert np.isclose(a, b, rtol=1e-9, atol=1e-6).all(), name


def test_missing_columns_say_which(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    pd.DataFrame({"transaction_id": ["a"], "amount": [1.0]}).to_parquet(
        tmp_path / "raw" / "transactions.parquet"
    )
    with pytest.raises(PrepareError, match="lacks the event columns .*'user_id'"):
        prepare(spark, tmp_path / "raw", tmp_path / "out")


def test_fields_of_another_type_are_refused_whole(spark: SparkSession, tmp_path: Path) -> None:
    """Numeric ids, a timestamp column, a numeric channel, a text amount and integer flags: the
    stream's strict model takes none of them, so the data set is refused, naming each."""
    path, raw = _generated(tmp_path, days=2, seed=4)
    raw["user_id"] = raw["user_id"].str.removeprefix("user_").astype("int64")
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True).astype("datetime64[us, UTC]")
    raw["channel"] = raw["channel"].map({"online": 0, "pos": 1, "atm": 2})
    raw["amount"] = raw["amount"].map(str)
    raw["used_pin"] = raw["used_pin"].astype("int64")
    raw["latitude"] = raw["latitude"].round().astype("int64")  # integers are numbers: accepted
    raw.to_parquet(path, index=False)
    with pytest.raises(PrepareError) as caught:
        prepare(spark, tmp_path / "raw", tmp_path / "out")
    message = str(caught.value)
    for found in (
        "user_id (bigint, not text)", "timestamp (timestamp, not text)",
        "channel (bigint, not text)", "amount (string, not floats or integers)",
        "used_pin (bigint, not booleans)",
    ):  # fmt: skip
        assert found in message, message
    assert "transaction_id" not in message and "latitude" not in message
    assert "used_chip" not in message and "write each as its type" in message
    assert not (tmp_path / "out").exists()


def test_times_in_nanoseconds_are_refused_with_how_to_write_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    """pandas writes its times in nanoseconds by default, which Spark cannot read."""
    path, raw = _generated(tmp_path, days=2, seed=4)
    raw["ingested_at"] = raw["ingested_at"].astype("datetime64[ns, UTC]")
    raw.to_parquet(path, index=False)
    with pytest.raises(PrepareError, match=r"NANOS.*coerce_timestamps='us'"):
        prepare(spark, tmp_path / "raw", tmp_path / "out")


def test_text_with_surrounding_whitespace_is_read_as_the_stream_reads_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The event model strips its text fields, so " u1\\u00a0" is user u1 to the stream: the Spark
    job must see the same user, currency and merchant, and compute the same features."""
    path, raw = _generated(tmp_path, days=5, seed=5)
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


# Values at the edges of the schema's rules: (field, value).
EDGES: list[tuple[str, Any]] = [
    *(("timestamp", t) for t in (
        "2026-11-29T10:00:00Z", "2026-11-29t10:00:00z", "2026-11-29T10:00+01:00",
        "2026-11-29T10:00:00+0100", "2026-11-29T10:00:00,5+01:00", "2026-11-29T10:00:00.+01:00",
        "2026-11-29T10:00:00.123456789+01:00", "2026-11-29T24:00:00+01:00",
        "2026-11-29T10:00:60+01:00", "2026-02-29T10:00:00Z", "2026-11-29T10:00:00+18:00",
        "2026-11-29T10:00:00+18:01", "2026-11-29T10:00:00+23:59", "2026-11-29T10:00:00-00:00",
        "2026-11-29T10:00:00 +01:00", "2026-11-29T10:00:00+01:00 ", "2026-11-29T10:00:00+01:00\n",
        "20261129T100000Z", "2026-W48-1T10:00:00Z", "0001-01-01T00:00:00Z", "yesterday",
        "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "2026-11-29T10:00:00+01:75",
        "2026-11-29T10:00:00-18:00", "1999-12-31T23:59:59Z", "1999-12-31T23:30:00-01:00",
        "2000-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00",
    )),
    *(("amount", a) for a in (0.0, -0.0, 1e-9, 1_000_000.0, 1_000_000.01, float("nan"))),
    *(("amount", a) for a in (float("inf"), -5.0)),
    *(("latitude", x) for x in (90.0, 90.0001, -90.0, float("nan"))),
    *(("longitude", x) for x in (180.0, -180.0001, float("inf"))),
    *(("currency", c) for c in ("eur", "EUR ", "EURO", " EU", "\u00a0EUR")),
    *(("channel", c) for c in ("POS", "pos ", "atm")),
    *(("user_id", u) for u in ("", " ", "\u2003", "u" * 128, "u" * 129, " " + "u" * 128)),
    *(("merchant_category", c) for c in ("c" * 64, "c" * 65, "\tc\n", "gro\u202ecery")),
    *(("user_id", u) for u in ("u\u200b1", "\ufeffu1", "u\t1", "u\x001", "u\x7f", "u\u2066",
                               "u\u00ad1", "u\u00a01", "ü-ñ 1", "u\u2800", "u\U0001f600")),
    *(("merchant_id", m) for m in ("m\u200d1", "m\n1", "m\u061c")),
]  # fmt: skip


def test_spark_and_the_event_model_refuse_the_same_values(spark: SparkSession) -> None:
    """Each edge value in an otherwise valid event: the Spark job's rules refuse it exactly when
    the stream's model (feature_repo.events.Transaction) does."""
    good = {
        "transaction_id": "t", "user_id": "u1", "amount": 12.5, "currency": "EUR",
        "merchant_id": "m1", "merchant_category": "grocery", "timestamp": "2026-11-29T10:00:00Z",
        "latitude": 48.1, "longitude": 11.5, "channel": "pos", "used_chip": True, "used_pin": False,
    }  # fmt: skip
    rows = [good | {name: value, "transaction_id": str(i)} for i, (name, value) in enumerate(EDGES)]
    frame = strip_text(spark.createDataFrame(pd.DataFrame(rows)))
    reasons = {
        row.transaction_id: row.reason
        for row in frame.select("transaction_id", rejection_reason(frame).alias("reason")).collect()
    }
    differ = []
    for i, (row, edge) in enumerate(zip(rows, EDGES, strict=True)):
        try:
            Transaction.model_validate(row)
            model_refuses = False
        except ValidationError:
            model_refuses = True
        if model_refuses != (reasons[str(i)] is not None):
            differ.append((edge, model_refuses, reasons[str(i)]))
    assert not differ
    assert sum(r is not None for r in reasons.values()) > len(EDGES) // 2  # edges, not all valid
