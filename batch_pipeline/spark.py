"""The Spark session the batch jobs share: `local[*]` here, any master on a cluster."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(master: str = "local[*]", app_name: str = "fraud-batch") -> SparkSession:
    """A session with UTC time, loopback-only driver and parquet timestamps pandas reads natively.

    Args:
        master: Spark master URL; `local[*]` uses every core of this machine.
        app_name: The application name shown by Spark.
    """
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # Keep the driver on loopback instead of the first network interface it finds.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        # Microsecond timestamps (not INT96) so Feast, pandas and pyarrow read them as UTC.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.memory", "4g")
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
