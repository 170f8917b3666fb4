"""A generated world, prepared once by Spark, shared by the feature tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from batch_pipeline.data.generate import generate
from batch_pipeline.data.prepare import PrepareSummary, prepare
from batch_pipeline.spark import spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


WORLD_DAYS = 40
# The generator's world depends on its start only through the weekday: any start whole weeks from
# this one gives the same world, shifted in time (same rows, same fraud, same late arrivals).
BASE_START = date(2026, 9, 1)


def recent_start(days: int, today: date | None = None, gap_days: int = 3) -> date:
    """The latest start whole weeks from `BASE_START` whose `days`-long world ends at least
    `gap_days` before `today` (UTC): the same world on any date, its latest activity within the
    activity view's 30-day TTL of the clock; an event a day after it is not ahead of the clock,
    and its newest profile snapshot (2 h after its end) is over 2 days old.
    """
    latest = (today or datetime.now(UTC).date()) - timedelta(days=days + gap_days)
    return BASE_START + timedelta(weeks=(latest - BASE_START).days // 7)


@dataclass(frozen=True)
class PreparedWorld:
    raw: Path
    out: Path
    summary: PrepareSummary


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session("local[2]", "fraud-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def prepared_world(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> PreparedWorld:
    """About 14,000 events of 250 users over 40 days ending 3-9 days ago, with many late and
    some too-late arrivals.

    The generator makes 2% of events late, which rarely puts two events of one user out of
    order; this history delays a further 30% by up to 14 minutes, so the lateness rules are
    exercised dozens of times (users are sparse: ~1.4 events a day).
    """
    root = tmp_path_factory.mktemp("world")
    start = recent_start(WORLD_DAYS)
    generate(users=250, days=WORLD_DAYS, seed=11, out=root / "raw", start=start, progress=False)
    path = root / "raw" / "transactions.parquet"
    raw = pd.read_parquet(path)
    rng = np.random.default_rng(11)
    delayed = rng.random(len(raw)) < 0.3
    delay = pd.to_timedelta(rng.integers(0, 14 * 60 * 10**6, delayed.sum()), unit="us")
    raw.loc[delayed, "ingested_at"] = raw.loc[delayed, "ingested_at"] + delay
    raw.to_parquet(path, index=False)
    summary = prepare(spark, root / "raw", root / "prepared")
    return PreparedWorld(root / "raw", root / "prepared", summary)
