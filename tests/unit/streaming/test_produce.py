"""`fraud produce` without a broker: arrival order, label stripping, valid events, CLI errors."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import pytest
from typer.testing import CliRunner

from batch_pipeline.data.generate import generate
from deploy.cli import app
from feature_repo.events import Transaction
from streaming.produce import (
    TRANSACTION_FIELDS,
    DataSetError,
    encode,
    events_from_data,
    events_live,
    with_labels,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def data_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(users=40, days=4, seed=3, out=out, start=date(2026, 9, 1), progress=False)
    return out


def _row(tx: str, timestamp: str, ingested: datetime | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "schema_version": 1, "transaction_id": tx, "user_id": f"user_{tx[-1]}", "amount": 12.5,
        "currency": "EUR", "merchant_id": "merchant_1", "merchant_category": "grocery",
        "timestamp": timestamp, "latitude": 52.5, "longitude": 13.4, "channel": "pos",
        "used_chip": True, "used_pin": False,
    }  # fmt: skip
    if ingested is not None:
        row["ingested_at"] = ingested
    return row | extra


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path / "transactions.parquet")
    return path


def _ids(events: Any) -> list[str]:
    return [event["transaction_id"] for event in events]


def test_data_is_sent_in_arrival_order_not_file_order(tmp_path: Path) -> None:
    at = datetime(2026, 9, 1, 9, 0, 5, tzinfo=UTC)
    late = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)
    rows = [
        _row("tx_a", "2026-09-01T09:00:00+00:00", late),  # happened first, arrived last
        _row("tx_c", "2026-09-01T09:00:03+00:00", at),
        _row("tx_b", "2026-09-01T09:00:04+00:00", at),  # same arrival: transaction_id decides
    ]
    assert _ids(events_from_data(_write(tmp_path, rows))) == ["tx_b", "tx_c", "tx_a"]


def test_without_ingested_at_event_time_orders_across_zones(tmp_path: Path) -> None:
    rows = [
        _row("tx_1", "2026-09-01T09:00:00+00:00"),
        _row("tx_2", "2026-09-01T10:30:00+02:00"),  # 08:30 UTC: the earliest
        _row("tx_3", "2026-09-01T04:00:00-05:00"),  # 09:00 UTC, same instant as tx_1
    ]
    assert _ids(events_from_data(_write(tmp_path, rows))) == ["tx_2", "tx_1", "tx_3"]


def test_generated_data_set_comes_out_whole_in_arrival_order(data_set: Path) -> None:
    table = pq.read_table(data_set / "transactions.parquet")
    expected = table.take(
        pc.sort_indices(table, [("ingested_at", "ascending"), ("transaction_id", "ascending")])
    )
    events = events_from_data(data_set)
    assert events.total == table.num_rows
    assert _ids(events) == expected["transaction_id"].to_pylist()
    first = events_from_data(data_set, count=25)
    assert _ids(first) == expected["transaction_id"].to_pylist()[:25]


def test_values_are_exactly_valid_transactions_without_labels(data_set: Path) -> None:
    events = [
        *events_from_data(data_set),
        *events_live(30, 2, datetime(2026, 11, 1, tzinfo=UTC), 5, 300),
    ]
    assert {"is_fraud", "fraud_pattern"} <= set(events[0])
    for event in events:
        key, value = encode(event)
        assert key == event["user_id"].encode()
        sent = orjson.loads(value)
        assert list(sent) == list(TRANSACTION_FIELDS)
        Transaction.model_validate_json(value)


def test_labels_file_lists_what_was_sent(data_set: Path) -> None:
    sink = io.BytesIO()
    sent = list(with_labels(events_from_data(data_set, count=50), sink))
    labels = [orjson.loads(line) for line in sink.getvalue().splitlines()]
    assert [label["transaction_id"] for label in labels] == _ids(sent)
    assert [(label["is_fraud"], label["fraud_pattern"]) for label in labels] == [
        (event["is_fraud"], event["fraud_pattern"]) for event in sent
    ]


def test_missing_file_or_fields_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DataSetError, match="fraud data generate"):
        events_from_data(tmp_path)
    rows = [{k: v for k, v in _row("tx_1", "2026-09-01T09:00:00Z").items() if k != "amount"}]
    with pytest.raises(DataSetError, match="amount"):
        events_from_data(_write(tmp_path, rows))


def _flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


@pytest.mark.parametrize("args", [[], ["--live", "--data", "somewhere"]])
def test_cli_needs_exactly_one_source(args: list[str]) -> None:
    result = runner.invoke(app, ["produce", *args])
    assert result.exit_code == 2
    assert "exactly one source: --data DIR" in _flat(result.output)


def test_cli_rejects_a_folder_without_data(tmp_path: Path) -> None:
    result = runner.invoke(app, ["produce", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "fraud data generate --out" in _flat(result.output)


def test_cli_rejects_a_start_that_is_not_a_date_time() -> None:
    result = runner.invoke(app, ["produce", "--live", "--start", "yesterday"])
    assert result.exit_code == 2
    assert "not an ISO date-time" in _flat(result.output)


def test_cli_rejects_a_live_stream_that_would_run_ahead_of_the_clock() -> None:
    """The worker dead-letters events more than 15 min ahead of their arrival; a world simulated
    from now runs ahead within seconds, so such a start is refused before anything is sent."""
    start = datetime.now(UTC).isoformat()
    args = ["produce", "--live", "--users", "50", "--count", "500", "--start", start]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    flat = _flat(result.output)
    assert (
        "after it would be sent (from now at 1000 events/s)" in flat and "Leave --start out" in flat
    ), flat


def test_cli_accepts_a_start_whose_events_are_sent_no_earlier_than_they_happen() -> None:
    """A small world's events from a day ago up to the first one dated an hour after now, sent
    slowly enough that each is behind its own sending: the start is not refused (the send then
    fails, as nothing listens on the port).

    The count and the pace come from the events' own times: the world is built for the start's
    date and has quiet nights, so a fixed count and rate are behind their events on some days
    and not on others.
    """
    now = datetime.now(UTC)
    start = now - timedelta(days=1)
    events = events_live(50, 1, start, 1.0, 2_000)
    times = [datetime.fromisoformat(e["timestamp"]) for e in events]
    count = 1 + next(i for i, t in enumerate(times) if t > now + timedelta(hours=1))
    offsets = [(t - start).total_seconds() for t in times[:count]]
    # Event i is sent i / rate after now, at least twice its offset from the start; the first is
    # sent at once, and is behind the clock as it happened within a day of the start.
    rate = min(i / (2 * max(offset, 1.0)) for i, offset in enumerate(offsets) if i)
    args = ["produce", "--live", "--users", "50", "--seed", "1", "--count", str(count),
            "--rate", repr(rate), "--start", start.isoformat(), "--bootstrap", "127.0.0.1:1",
            "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    flat = _flat(result.output)
    assert result.exit_code == 1 and "could not send" in flat, flat


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"timestamp": "2026-09-01T09:00:00"}, "timestamp must be RFC 3339 with a zone"),
        ({"user_id": 17}, "user_id: Input should be a valid string"),
        ({"amount": None}, "amount: Input should be a valid number"),
    ],
)
def test_cli_refuses_a_data_set_the_worker_would_dead_letter(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    """Checked before anything is sent (the broker here is a closed port): each event as the
    worker decodes it. Such a data set was sent whole, and every event became a dead letter."""
    at = datetime(2026, 9, 1, 9, 0, 5, tzinfo=UTC)
    good = _row("tx_1", "2026-09-01T09:00:00Z", at)
    bad = _row("tx_2", "2026-09-01T09:00:01Z", at) | change | {"ingested_at": at}
    rows = [good, bad, good | {"transaction_id": "tx_3"}]
    if change.get("user_id") == 17:  # a column is one type: every id a number
        rows = [r | {"user_id": i} for i, r in enumerate(rows, 17)]
    args = ["produce", "--data", str(_write(tmp_path, rows)), "--bootstrap", "127.0.0.1:1"]
    result = runner.invoke(app, [*args, "--no-progress"])
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert "would be dead letters" in flat and says in flat, flat
    assert "could not send" not in flat


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--live", "--bootstrap", "127.0.0.1:abc"], "'127.0.0.1:abc' is not host:port"),
        (["--live", "--bootstrap", "127.0.0.1:99999"], "is not host:port"),
        (["--live", "--rate", "inf"], "inf is not a finite number"),
        (["--live", "--seed", "-1"], "--seed"),
        (["--live", "--fraud-boost", "1000"], "--fraud-boost"),
        (["--live", "--start", "9999-12-31T23:59:59+00:00"], "the live world cannot start"),
        (["--data", ".", "--seed", "5", "--start", "x"], "--seed, --start apply to --live only"),
        (["--live", "--labels-out", "/nonexistent/l.jsonl"], "its folder does not exist"),
    ],
)
def test_cli_names_the_option_to_fix(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["produce", *args, "--no-progress"])
    flat = _flat(result.output)
    assert result.exit_code == 2 and says in flat, flat


def test_cli_leaves_the_labels_file_alone_until_it_sends(tmp_path: Path) -> None:
    """With no broker, nothing is sent, and an existing labels file keeps what it held."""
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b'{"precious": 1}\n')
    args = ["produce", "--live", "--users", "100", "--count", "5", "--rate", "0",
            "--bootstrap", "127.0.0.1:1", "--labels-out", str(labels), "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "could not send" in _flat(result.output)
    assert labels.read_bytes() == b'{"precious": 1}\n'
