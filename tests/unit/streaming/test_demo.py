"""The demo's placing of the history and the live stream's profile reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streaming.demo import history_end, profiles_reach

EAST = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("live_start", "end", "reach"),
    [
        (datetime(2026, 11, 29, 6, 40, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC),
         datetime(2026, 12, 1, 2, tzinfo=UTC)),
        (datetime(2026, 11, 29, 0, 0, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC),
         datetime(2026, 12, 1, 2, tzinfo=UTC)),
        (datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC),
         datetime(2026, 12, 1, 2, tzinfo=UTC)),
        # 01:00 at UTC+2 is the day before in UTC, the days of the data set and its snapshots.
        (datetime(2026, 11, 29, 1, 0, tzinfo=EAST), datetime(2026, 11, 28, tzinfo=UTC),
         datetime(2026, 11, 30, 2, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_history_ends_at_the_live_days_utc_midnight_and_its_profiles_last_two_days_on(
    live_start: datetime, end: datetime, reach: datetime
) -> None:
    assert history_end(live_start) == end
    assert profiles_reach(live_start) == reach
