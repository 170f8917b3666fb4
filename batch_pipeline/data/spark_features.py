"""Point-in-time features of history as Spark columns: the batch twin of feature_repo.activity.

Each function mirrors a formula of `feature_repo` (spec, activity, vectors); the parity test
feeds one history through both and compares every value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from feature_repo.spec import (
    MAX_SPEED_KMH,
    MERCHANT_MEMORY,
    MIN_SPEED_INTERVAL,
    NO_PREVIOUS_GAP,
    PROFILE_AVAILABLE_AFTER,
    PROFILE_WINDOW,
    WINDOW_LONG,
    WINDOW_SHORT,
)
from feature_repo.vectors import EARTH_RADIUS_KM

if TYPE_CHECKING:
    from datetime import timedelta

    from pyspark.sql import Column, DataFrame

US = 1_000_000
DAY_US = 86_400 * US


def micros(delta: timedelta) -> int:
    return int(delta.total_seconds() * US)


SHORT_US, LONG_US, MERCHANT_US = micros(WINDOW_SHORT), micros(WINDOW_LONG), micros(MERCHANT_MEMORY)
PROFILE_DAYS = PROFILE_WINDOW.days


def _haversine(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    from pyspark.sql import functions as F

    p1, p2 = F.radians(lat1), F.radians(lat2)
    a = F.pow(F.sin((p2 - p1) / 2), 2) + F.cos(p1) * F.cos(p2) * F.pow(
        F.sin(F.radians(lon2 - lon1) / 2), 2
    )
    a = F.least(F.greatest(a, F.lit(0.0)), F.lit(1.0))
    return F.lit(2 * EARTH_RADIUS_KM) * F.asin(F.sqrt(a))


def activity_features(events: DataFrame) -> DataFrame:
    """Per accepted event: activity, movement and event-only features (see feature_repo.spec)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    e = events.select(
        "user_id", "transaction_id", "ts_us", "arr", "amount", "latitude", "longitude",
        "merchant_id",
    ).withColumn("day", F.floor(F.col("ts_us") / DAY_US))  # fmt: skip

    # Candidates within (t - 24 h, t]: the same or the previous UTC day; an equi-join on
    # (user, day) keeps the pairs per event small.
    t = e.select(
        *[F.col(c).alias(f"t_{c}") for c in e.columns],
        F.explode(F.array(F.col("day"), F.col("day") - 1)).alias("bucket"),
    )
    pairs = t.join(
        e.select(*[F.col(c).alias(f"e_{c}") for c in e.columns]),
        (F.col("t_user_id") == F.col("e_user_id")) & (F.col("bucket") == F.col("e_day")),
    ).where(
        (F.col("e_ts_us") <= F.col("t_ts_us"))
        & (F.col("e_ts_us") > F.col("t_ts_us") - LONG_US)
        & (F.col("e_arr") <= F.col("t_arr"))
    )
    in_short = F.col("e_ts_us") > F.col("t_ts_us") - SHORT_US
    earlier = F.col("e_arr") < F.col("t_arr")
    windows = pairs.groupBy("t_transaction_id").agg(
        F.count(F.lit(1)).alias("tx_count_24h"),
        F.sum("e_amount").alias("amount_sum_24h"),
        F.count(F.when(in_short, 1)).alias("tx_count_1h"),
        F.sum(F.when(in_short, F.col("e_amount")).otherwise(0.0)).alias("amount_sum_1h"),
        F.max(F.when(earlier, F.struct("e_ts_us", "e_arr", "e_latitude", "e_longitude"))).alias(
            "prev_recent"
        ),
        F.max(
            F.when(earlier & (F.col("e_merchant_id") == F.col("t_merchant_id")), 1).otherwise(0)
        ).alias("merchant_recent"),
    )

    # Older than 24 h before t: every such event arrived before this one (a later arrival would
    # have been too late), so plain event-time windows give the previous event and merchant.
    by_time = Window.partitionBy("user_id").orderBy("ts_us")
    older = by_time.rangeBetween(Window.unboundedPreceding, -LONG_US)
    by_merchant = Window.partitionBy("user_id", "merchant_id").orderBy("ts_us")
    merchant_older = by_merchant.rangeBetween(-(MERCHANT_US - 1), -LONG_US)
    with_old = e.withColumn(
        "prev_old", F.max(F.struct("ts_us", "arr", "latitude", "longitude")).over(older)
    ).withColumn("merchant_old", F.count(F.lit(1)).over(merchant_older))

    joined = with_old.join(
        windows, with_old["transaction_id"] == windows["t_transaction_id"]
    ).withColumn(
        "prev",
        F.coalesce(
            F.col("prev_recent"),
            F.col("prev_old").cast(
                "struct<e_ts_us:bigint,e_arr:int,e_latitude:double,e_longitude:double>"
            ),
        ),
    )
    has_prev = F.col("prev").isNotNull()
    gap_cap = NO_PREVIOUS_GAP.total_seconds()
    gap = F.when(has_prev, (F.col("ts_us") - F.col("prev.e_ts_us")) / US).otherwise(gap_cap)
    distance = F.when(
        has_prev,
        _haversine(
            F.col("latitude"), F.col("longitude"), F.col("prev.e_latitude"),
            F.col("prev.e_longitude"),
        ),
    ).otherwise(0.0)  # fmt: skip
    min_gap = MIN_SPEED_INTERVAL.total_seconds()
    return joined.select(
        "transaction_id",
        F.col("tx_count_1h").cast("double"),
        F.col("tx_count_24h").cast("double"),
        "amount_sum_1h",
        "amount_sum_24h",
        F.least(gap, F.lit(gap_cap)).alias("seconds_since_last_tx"),
        distance.alias("distance_from_last_km"),
        F.least(
            distance / (F.greatest(F.least(gap, F.lit(gap_cap)), F.lit(min_gap)) / 3600.0),
            F.lit(MAX_SPEED_KMH),
        ).alias("speed_from_last_kmh"),
        F.when((F.col("merchant_recent") == 1) | (F.col("merchant_old") > 0), 1.0)
        .otherwise(0.0)
        .alias("merchant_seen_30d"),
    )


def event_features(events: DataFrame) -> DataFrame:
    """Features of the event alone (feature_repo.vectors.request), as Spark columns."""
    from pyspark.sql import functions as F

    # The local hour is the one written in the timestamp, before any conversion to UTC.
    angle = F.lit(2 * math.pi) * F.substring("timestamp", 12, 2).cast("double") / 24.0
    flag = {True: 1.0, False: 0.0}
    return events.select(
        "transaction_id",
        "user_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        "ingested_at",
        "latitude",
        "longitude",
        "merchant_id",
        F.col("amount").cast("double").alias("amount"),
        F.log1p("amount").alias("log_amount"),
        F.sin(angle).alias("hour_sin"),
        F.cos(angle).alias("hour_cos"),
        (F.col("channel") == "online").cast("double").alias("is_online"),
        (F.col("channel") == "pos").cast("double").alias("is_pos"),
        (F.col("channel") == "atm").cast("double").alias("is_atm"),
        F.when(F.col("used_chip"), flag[True]).otherwise(flag[False]).alias("used_chip"),
        F.when(F.col("used_pin"), flag[True]).otherwise(flag[False]).alias("used_pin"),
    )


def profile_snapshots(events: DataFrame, users: DataFrame | None) -> DataFrame:
    """Daily per-user profiles over the 90 days before each UTC midnight, stamped when available.

    Snapshot D covers the user's events with event time in [D - 90 days, D) that had arrived by
    D + PROFILE_AVAILABLE_AFTER. Each event is filed under the first snapshot that can see it;
    a 90-day window over a per-user calendar of snapshot days gathers them, so no event is
    copied 90 times.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    last = events.agg(F.max(F.floor(F.col("ts_us") / DAY_US)).alias("d")).first()
    last_day = int(last["d"]) if last is not None and last["d"] is not None else 0
    available_after = micros(PROFILE_AVAILABLE_AFTER)
    filed = events.select(
        "user_id",
        F.floor(F.col("ts_us") / DAY_US).alias("day"),
        # The first snapshot D with D's midnight after the event and D + delay after its arrival.
        F.greatest(
            F.floor(F.col("ts_us") / DAY_US) + 1,
            F.ceil((F.unix_micros("ingested_at") - available_after) / DAY_US),
        ).alias("start"),
        F.struct(
            F.floor(F.col("ts_us") / DAY_US).alias("day"), "ts_us", "amount", "latitude",
            "longitude", "merchant_id",
        ).alias("item"),
    )  # fmt: skip
    by_start = filed.groupBy("user_id", "start").agg(F.collect_list("item").alias("items"))
    calendar = filed.groupBy("user_id").agg(
        F.explode(
            F.sequence(F.min("start"), F.least(F.max("day") + PROFILE_DAYS, F.lit(last_day + 1)))
        ).alias("snapshot_day")
    )
    joined = calendar.join(
        by_start.withColumnRenamed("start", "snapshot_day"), ["user_id", "snapshot_day"], "left"
    )
    # Events filed under D-89..D; one filed there but older than D-90 (it arrived late) is dropped.
    window = (
        Window.partitionBy("user_id").orderBy("snapshot_day").rangeBetween(-(PROFILE_DAYS - 1), 0)
    )
    gathered = joined.withColumn(
        "items", F.flatten(F.collect_list(F.coalesce("items", F.array())).over(window))
    ).withColumn(
        "items", F.filter("items", lambda x: x["day"] >= F.col("snapshot_day") - PROFILE_DAYS)
    )
    stats = gathered.withColumn("n", F.size("items")).where(F.col("n") > 0)

    def median(field: str) -> Column:
        values = F.array_sort(F.transform("items", lambda x: x[field]))
        mid = F.floor(F.col("n") / 2).cast("int")
        odd = F.element_at(values, mid + 1)
        even = (F.element_at(values, mid) + F.element_at(values, mid + 1)) / 2
        return F.when(F.col("n") % 2 == 1, odd).otherwise(even)

    amounts = F.transform("items", lambda x: x["amount"])
    mean = F.aggregate(amounts, F.lit(0.0), lambda acc, x: acc + x) / F.col("n")
    profile = stats.select(
        "user_id",
        "snapshot_day",
        median("latitude").alias("home_latitude"),
        median("longitude").alias("home_longitude"),
        median("amount").alias("amount_median_90d"),
        mean.alias("amount_mean_90d"),
        F.when(
            F.col("n") > 1,
            F.sqrt(
                F.aggregate(amounts, F.lit(0.0), lambda acc, x: acc + (x - mean) * (x - mean))
                / (F.col("n") - 1)
            ),
        )
        .otherwise(0.0)
        .alias("amount_std_90d"),
        F.col("n").cast("double").alias("tx_count_90d"),
        F.size(F.array_distinct(F.transform("items", lambda x: x["merchant_id"])))
        .cast("double")
        .alias("distinct_merchants_90d"),
        F.array_min(F.transform("items", lambda x: x["ts_us"])).alias("first_seen_us"),
    )
    midnight_us = F.col("snapshot_day") * DAY_US
    available_us = midnight_us + F.lit(available_after)
    if users is not None:
        profile = profile.join(
            users.select("user_id", F.unix_micros("account_created_at").alias("opened_us")),
            "user_id",
            "left",
        )
    else:
        # No account data: the account is as old as its first transaction in this data.
        profile = profile.withColumn("opened_us", F.col("first_seen_us"))
    opened = F.coalesce(F.col("opened_us"), F.col("first_seen_us"))
    return profile.select(
        "user_id",
        F.timestamp_micros(available_us).alias("event_timestamp"),
        "home_latitude",
        "home_longitude",
        "amount_median_90d",
        "amount_mean_90d",
        "amount_std_90d",
        "tx_count_90d",
        "distinct_merchants_90d",
        F.greatest((midnight_us - opened) / DAY_US, F.lit(0.0)).alias("account_age_days"),
    )
