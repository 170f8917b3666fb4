"""How `fraud alerts tail` prints an alert: its time, and its score against its threshold."""

from __future__ import annotations

import pytest

from streaming.tail import alert_line, event_time, score_and_threshold


@pytest.mark.parametrize(
    ("score", "threshold", "shown"),
    [
        (0.9, 0.5, ("0.900", "0.500")),
        (0.99962, 0.9995, ("0.9996", "0.9995")),  # "1.000 ≥ 1.000" at 3 decimals
        (0.5000004, 0.5, ("0.5000004", "0.5000000")),
        (0.75, 0.75, ("0.750", "0.750")),  # equal: at the threshold, 3 decimals
        (0.500000000001, 0.5, ("0.50000000", "0.50000000")),  # no more than 8 decimals
        (None, 0.5, ("?", "0.500")),
        ("high", 0.5, ("high", "0.500")),
    ],
)
def test_score_and_threshold_show_as_many_decimals_as_tell_them_apart(
    score: object, threshold: object, shown: tuple[str, str]
) -> None:
    assert score_and_threshold(score, threshold) == shown


def test_alert_line_has_the_score_against_the_threshold() -> None:
    line = alert_line({"score": 0.99962, "threshold": 0.9995, "user_id": "u1"}).plain
    assert "score 0.9996 ≥ 0.9995" in line


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-01T00:57:08.250+06:00", "2026-11-30 18:57:08Z"),  # not hours in the future
        ("2026-11-30T18:57:08Z", "2026-11-30 18:57:08Z"),
        ("2026-11-30T18:57:08", "2026-11-30T18:57:08"),  # no offset: shown as it came
        ("yesterday", "yesterday"),
        (None, "None"),
    ],
)
def test_an_alert_shows_its_event_time_in_utc(value: object, shown: str) -> None:
    assert event_time(value) == shown
    assert alert_line({"event_timestamp": value}).plain.startswith(shown)


def test_tail_without_a_broker_says_so_and_exits_1() -> None:
    """One line saying what to start, not kafka-python's retries (it gives up after 5 s). A
    process of its own: kafka-python leaves the failed connection's socket open."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "alerts", "tail", "--bootstrap", "127.0.0.1:1",
         "--timeout", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    flat = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, flat
    assert "could not read fraud-alerts at 127.0.0.1:1" in flat and "fraud stack up" in flat
    assert "ERROR" not in flat
