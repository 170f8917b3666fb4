"""A generated world, prepared once by Spark, shared by the feature tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
    """About 14,000 events of 250 users over 40 days, with many late and some too-late arrivals.

    The generator makes 2% of events late, which rarely puts two events of one user out of
    order; this history delays a further 30% by up to 14 minutes, so the lateness rules are
    exercised dozens of times (users are sparse: ~1.4 events a day).
    """
    root = tmp_path_factory.mktemp("world")
    generate(users=250, days=40, seed=11, out=root / "raw", progress=False)
    path = root / "raw" / "transactions.parquet"
    raw = pd.read_parquet(path)
    rng = np.random.default_rng(11)
    delayed = rng.random(len(raw)) < 0.3
    delay = pd.to_timedelta(rng.integers(0, 14 * 60 * 10**6, delayed.sum()), unit="us")
    raw.loc[delayed, "ingested_at"] = raw.loc[delayed, "ingested_at"] + delay
    raw.to_parquet(path, index=False)
    summary = prepare(spark, root / "raw", root / "prepared")
    return PreparedWorld(root / "raw", root / "prepared", summary)
