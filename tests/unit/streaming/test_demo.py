"""The demo's placing of the history before the live stream, and its profiles' reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streaming.demo import history_end, profiles_reach

EAST = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("live_start", "end"),
    [
        (datetime(2026, 11, 29, 6, 40, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        (datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        # The 29th's snapshot is available from 02:00; before that, the 28th's is the newest.
        (datetime(2026, 11, 29, 2, 0, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        (datetime(2026, 11, 29, 1, 59, 59, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)),
        (datetime(2026, 11, 29, 0, 0, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)),
        # The data set's days and its snapshots are UTC's: 05:00 at UTC+2 is 03:00 UTC.
        (datetime(2026, 11, 29, 5, 0, tzinfo=EAST), datetime(2026, 11, 29, tzinfo=UTC)),
        (datetime(2026, 11, 29, 3, 0, tzinfo=EAST), datetime(2026, 11, 28, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_history_ends_at_the_newest_midnight_whose_profiles_are_out_by_the_live_start(
    live_start: datetime, end: datetime
) -> None:
    assert history_end(live_start) == end
    assert end + timedelta(hours=2) <= live_start  # its snapshot is available by then


@pytest.mark.parametrize(
    ("live_start", "reach"),
    [
        (datetime(2026, 11, 29, 6, 40, tzinfo=UTC), datetime(2026, 12, 1, 2, tzinfo=UTC)),
        (datetime(2026, 11, 29, 1, 0, tzinfo=UTC), datetime(2026, 11, 30, 2, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_profiles_last_two_days_from_when_they_are_available(
    live_start: datetime, reach: datetime
) -> None:
    assert profiles_reach(live_start) == reach
