"""The window `fraud features materialize` loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feature_repo.cli import materialize_window

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_a_recent_snapshot_is_loaded_with_the_days_asked_for() -> None:
    newest = NOW - timedelta(hours=5)
    assert materialize_window(newest, NOW, days=3) == (NOW - timedelta(days=3), NOW)


def test_an_old_snapshot_is_still_loaded() -> None:
    newest = NOW - timedelta(days=40)
    start, until = materialize_window(newest, NOW, days=3)
    assert start < newest < until == NOW


def test_a_snapshot_stamped_after_now_is_inside_the_window() -> None:
    newest = NOW + timedelta(hours=2)
    start, until = materialize_window(newest, NOW, days=1)
    assert start == newest + timedelta(seconds=1) - timedelta(days=1)
    assert start < newest < until
