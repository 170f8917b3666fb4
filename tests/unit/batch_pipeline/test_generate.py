"""The synthetic world: reproducible, valid, and fraud a model can learn (but not perfectly)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import pytest
from typer.testing import CliRunner

import batch_pipeline.data
from batch_pipeline.cli import app
from batch_pipeline.data import LiveGenerator, generate
from batch_pipeline.data.generate import GenerationSummary
from batch_pipeline.data.live import last_event_time, most_ahead, start_ending_by
from batch_pipeline.data.places import CITY_LAT, CITY_LON, CITY_OFFSET
from batch_pipeline.data.records import ALLOWED_LATENESS_S, LATE_FRACTION, TOO_LATE_FRACTION
from feature_repo.events import Transaction

START = date(2026, 9, 1)
START_DT = datetime(2026, 9, 1, tzinfo=UTC)
FILES = ("users", "merchants", "transactions", "labels")
FRAUD_PATTERNS = {"card_testing", "account_takeover", "impossible_travel", "spend_spike"}
TRANSACTION_FIELDS = set(Transaction.model_fields)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, pd.DataFrame]:
    summary = generate(2000, 30, 1, tmp_path_factory.mktemp("world"), START, progress=False)
    frame = pd.read_parquet(summary.transactions_path)
    frame["event_time"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return summary, frame


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("drift")
    summary = generate(3000, 20, 5, out, START, drift_from=10, progress=False)
    frame = pd.read_parquet(summary.transactions_path)
    frame["event_time"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return frame


def _digests(folder: Path) -> dict[str, str]:
    return {n: hashlib.sha256((folder / f"{n}.parquet").read_bytes()).hexdigest() for n in FILES}


def _km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


def _offset_minutes(timestamps: pd.Series) -> Any:
    sign = np.where(timestamps.str[-6] == "-", -1, 1)
    return sign * (timestamps.str[-5:-3].astype(int) * 60 + timestamps.str[-2:].astype(int))


def test_public_surface() -> None:
    assert sorted(batch_pipeline.data.__all__) == sorted(
        ["PATTERNS", "GenerationSummary", "LiveGenerator", "PatternStats", "generate"]
    )


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(300, 7, seed, tmp_path / name, START, drift_from=3, progress=False)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    differing = {k for k, v in _digests(tmp_path / "c").items() if v != _digests(tmp_path / "a")[k]}
    assert differing == set(FILES)


def test_a_start_whole_weeks_later_is_the_same_world_later(tmp_path: Path) -> None:
    """What the integration tests rely on to date their world near the clock on any day."""
    later = START + timedelta(weeks=7)
    for name, start in (("a", START), ("b", later)):
        generate(300, 10, 5, tmp_path / name, start, progress=False)
    shift = pd.Timedelta(weeks=7)
    for name in FILES:
        a, b = (pd.read_parquet(tmp_path / side / f"{name}.parquet") for side in "ab")
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0, name
        for column in a.columns:
            x, y = a[column], b[column]
            if column == "timestamp":  # RFC 3339 text at the place's offset
                x, y = (pd.to_datetime(t, format="ISO8601", utc=True) for t in (x, y))
            if isinstance(x.dtype, pd.DatetimeTZDtype):
                assert ((y - x) == shift).all(), (name, column)
            else:
                assert x.equals(y), (name, column)


def test_parquet_schemas(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    summary, _ = world
    utc = pa.timestamp("us", tz="UTC")
    tx = pq.read_schema(summary.transactions_path)
    assert tx.names[:13] == list(Transaction.model_fields)
    assert tx.names[13:] == ["ingested_at", "is_fraud", "fraud_pattern"]
    assert tx.field("timestamp").type == pa.string() and tx.field("ingested_at").type == utc
    labels = pq.read_schema(summary.labels_path)
    assert labels.names == ["transaction_id", "is_fraud", "label_available_at"]
    assert labels.field("label_available_at").type == utc
    users = pq.read_table(summary.users_path)
    assert users.num_rows == 2000 and users.schema.field("account_created_at").type == utc
    assert users["user_id"].to_pylist()[:2] == ["user_0", "user_1"]
    opened = users["account_created_at"].to_pandas()
    assert opened.max() < pd.Timestamp(START_DT)
    assert opened.min() > pd.Timestamp(START_DT - timedelta(days=6 * 366))
    assert opened.min() < pd.Timestamp(START_DT - timedelta(days=4 * 365))  # spread over years
    assert pq.read_table(summary.merchants_path).num_rows >= 200


def test_sample_validates_against_transaction(
    world: tuple[GenerationSummary, pd.DataFrame],
) -> None:
    _, frame = world
    sample = pd.concat([frame.sample(2000, random_state=0), frame[frame["is_fraud"]]])
    for row in sample.to_dict("records"):
        Transaction.model_validate({k: v for k, v in row.items() if k in TRANSACTION_FIELDS})
    assert frame["transaction_id"].is_unique
    assert frame["transaction_id"].str.fullmatch(r"tx_[0-9a-f]{16}").all()
    assert (frame["currency"] == "EUR").all()


def test_rows_sorted_in_window_whole_seconds(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    _, frame = world
    key = list(zip(frame["event_time"], frame["transaction_id"], strict=True))
    assert key == sorted(key)
    assert frame["event_time"].min() >= pd.Timestamp(START_DT)
    assert frame["event_time"].max() < pd.Timestamp(START_DT + timedelta(days=30))
    assert (frame["event_time"].dt.microsecond == 0).all()


def test_fraud_rate_and_every_pattern(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    summary, frame = world
    assert 0.005 <= frame["is_fraud"].mean() <= 0.015
    assert set(frame.loc[frame["is_fraud"], "fraud_pattern"]) == FRAUD_PATTERNS
    assert (frame["is_fraud"] == (frame["fraud_pattern"] != "none")).all()
    assert (
        summary.by_pattern() == frame[frame["is_fraud"]]["fraud_pattern"].value_counts().to_dict()
    )
    assert 1.0 <= len(frame) / (2000 * 30) <= 3.0


def test_timestamp_offset_is_that_of_the_place(
    world: tuple[GenerationSummary, pd.DataFrame],
) -> None:
    _, frame = world
    lat, lon = frame["latitude"].to_numpy(), frame["longitude"].to_numpy()
    nearest = np.argmin(
        _km(lat[:, None], lon[:, None], CITY_LAT[None, :], CITY_LON[None, :]), axis=1
    )
    offsets = _offset_minutes(frame["timestamp"])
    assert (offsets == CITY_OFFSET[nearest]).all()
    assert {-300, 0, 60, 120, 330} <= set(offsets)  # far-away places keep their own clocks
    honest = frame[~frame["is_fraud"]]
    local_hour = honest["timestamp"].str[11:13].astype(int)
    night, lunch = local_hour.between(1, 5).mean(), local_hour.between(12, 13).mean()
    assert night < 0.05 and lunch > 0.12


def test_arrival_delays(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    summary, frame = world
    delay = (frame["ingested_at"] - frame["event_time"]).dt.total_seconds()
    assert (delay >= 0).all()
    late = (delay > 2) & (delay <= ALLOWED_LATENESS_S)
    too_late = delay > ALLOWED_LATENESS_S
    assert LATE_FRACTION * 0.8 <= late.mean() <= LATE_FRACTION * 1.2
    assert TOO_LATE_FRACTION * 0.3 <= too_late.mean() <= TOO_LATE_FRACTION * 3
    assert delay[too_late].between(3600, 12 * 3600).all()
    assert (summary.late_events, summary.too_late_events) == (late.sum(), too_late.sum())


def test_labels_arrive_like_chargebacks(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    summary, frame = world
    labels = pd.read_parquet(summary.labels_path)
    assert (labels["transaction_id"] == frame["transaction_id"]).all()
    assert (labels["is_fraud"] == frame["is_fraud"]).all()
    wait = (labels["label_available_at"] - frame["event_time"]).dt.total_seconds() / 86400
    fraud_wait = wait[labels["is_fraud"]]
    assert fraud_wait.between(1, 45).all() and 4 <= fraud_wait.median() <= 12
    assert (wait[~labels["is_fraud"]] == 30).all()


def test_fraud_looks_different_but_not_always(
    world: tuple[GenerationSummary, pd.DataFrame],
) -> None:
    summary, frame = world
    users = pd.read_parquet(summary.users_path).set_index("user_id")
    frame = frame.join(users, on="user_id")
    frame["ratio"] = frame["amount"] / np.exp(frame["spend_mu"])
    frame["home_km"] = _km(
        frame["latitude"], frame["longitude"], frame["home_latitude"], frame["home_longitude"]
    )
    by = frame.groupby("fraud_pattern")
    median = by["amount"].median()
    assert median["account_takeover"] / median["none"] > 3
    assert median["spend_spike"] / median["none"] > 3
    assert median["card_testing"] < 5
    assert by["home_km"].min()["impossible_travel"] > 1000
    assert by["home_km"].median()["account_takeover"] > 1000
    assert (by["channel"].unique()["card_testing"] == ["online"]).all()
    ato = frame[frame["fraud_pattern"] == "account_takeover"]
    assert not ato["used_chip"].any() and not ato["used_pin"].any()
    # Noise both ways: some fraud is ordinary-looking, some honest spending is odd.
    spike = frame[frame["fraud_pattern"] == "spend_spike"]
    assert 0.1 < (spike["ratio"] < 4).mean() < 0.5
    honest = frame[~frame["is_fraud"]]
    assert 0.003 < (honest["home_km"] > 300).mean() < 0.1
    assert (honest["ratio"] > 10).mean() > 0.001


def test_drift_adds_atm_cashout_after_the_drift_day(drifted: pd.DataFrame) -> None:
    drift_start = pd.Timestamp(START_DT + timedelta(days=10))
    cashout = drifted[drifted["fraud_pattern"] == "atm_cashout"]
    assert len(cashout) > 0 and (cashout["event_time"] >= drift_start).all()
    assert (cashout["channel"] == "atm").all() and cashout["used_pin"].all()
    assert (cashout["amount"] % 50 == 0).all() and cashout["amount"].min() >= 200
    local_hour = cashout["timestamp"].str[11:13].astype(int)
    assert (local_hour < 6).all()
    honest = drifted[~drifted["is_fraud"]]
    after = honest["event_time"] >= drift_start + pd.Timedelta(days=1)
    before = honest["event_time"] < drift_start - pd.Timedelta(days=1)
    ratio = honest.loc[after, "amount"].median() / honest.loc[before, "amount"].median()
    assert 1.15 < ratio < 1.5
    online = honest["channel"] == "online"
    assert online[after].mean() > online[before].mean() + 0.05


def test_no_atm_cashout_without_drift(world: tuple[GenerationSummary, pd.DataFrame]) -> None:
    summary, frame = world
    assert "atm_cashout" not in set(frame["fraud_pattern"])
    assert "atm_cashout" not in summary.by_pattern()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="users must be at least 1"):
        generate(0, 5, 1, tmp_path, progress=False)
    with pytest.raises(ValueError, match="between 0 and 4"):
        generate(10, 5, 1, tmp_path, drift_from=5, progress=False)
    runner = CliRunner()
    for args, hint in (
        (["--users", "0"], "--users"),
        (["--days", "0"], "--days"),
        (["--days", "5", "--drift-from", "5"], "--drift-from"),
    ):
        result = runner.invoke(app, ["generate", "--out", str(tmp_path), *args])
        assert result.exit_code != 0
        assert hint in result.output
    assert not list(tmp_path.iterdir())


def test_cli_prints_the_rates_per_pattern(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "--users", "400", "--days", "4", "--drift-from", "1",
              "--out", str(tmp_path), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in (*FRAUD_PATTERNS, "atm_cashout", "fraud"):
        assert name in result.output
    assert (tmp_path / "transactions.parquet").exists()


def test_live_events_continue_in_event_time() -> None:
    start = datetime(2026, 11, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    live = LiveGenerator(800, 9, start, fraud_boost=5.0)
    events = live.events(2500)  # more than one simulated day
    assert live.days_simulated >= 2 and len(events) == 2500
    assert LiveGenerator(800, 9, start, fraud_boost=5.0).events(2500) == events
    assert set(events[0]) == TRANSACTION_FIELDS | {"is_fraud", "fraud_pattern"}
    parsed = [
        Transaction.model_validate({k: v for k, v in e.items() if k in TRANSACTION_FIELDS})
        for e in events
    ]
    times = [p.timestamp for p in parsed]
    assert times == sorted(times) and times[0] >= start
    assert len({e["transaction_id"] for e in events + live.events(500)}) == 3000
    fraud_rate = np.mean([e["is_fraud"] for e in events])
    assert 0.02 < fraud_rate < 0.15  # boosted five-fold from ~1%


@pytest.mark.parametrize(("users", "count"), [(300, 5000), (5000, 800), (50, 0)])
def test_a_live_stream_can_be_placed_to_end_by_a_time(users: int, count: int) -> None:
    end = datetime(2026, 11, 30, 12, 0, 0, 500_000, tzinfo=UTC)
    start = start_ending_by(users, 4, count, end, fraud_boost=5.0)
    events = LiveGenerator(users, 4, start, fraud_boost=5.0).events(count)
    if not count:
        assert start == end
        return
    times = [datetime.fromisoformat(e["timestamp"]) for e in events]
    assert times[0] >= start and last_event_time(users, 4, start, count, 5.0) == times[-1]
    # It ends by `end`, not days before it (its span is some 12 days for 300 users' 5,000).
    assert end - timedelta(days=1) < times[-1] <= end, (times[0], times[-1])


@pytest.mark.parametrize("rate", [0.0, 1000.0, 0.001])
def test_the_event_most_ahead_of_its_sending_is_found(rate: float) -> None:
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)
    sent_from = start + timedelta(hours=2)
    events = LiveGenerator(80, 6, start, fraud_boost=1.0).events(300)
    times = [datetime.fromisoformat(e["timestamp"]) for e in events]
    leads = [
        t - sent_from - timedelta(seconds=i / rate if rate else 0) for i, t in enumerate(times)
    ]

    found = most_ahead(80, 6, start, 300, 1.0, sent_from, rate)

    assert found is not None
    index, when, lead = found
    assert when == times[index] and lead == leads[index] == max(leads)
    if rate in (0.0, 1000.0):  # sent at once, or within 0.3 s: the last event is furthest ahead
        assert index == 299
    assert most_ahead(80, 6, start, 0, 1.0, sent_from, rate) is None
