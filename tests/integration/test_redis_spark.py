"""A Redis round trip and a local Spark session, both real."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis


@pytest.mark.redis
def test_redis_round_trip(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = "test:features:user_1"
    client.hset(key, mapping={"tx_count_1h": 3, "amount_sum_24h": "120.5"})
    client.expire(key, 60)
    assert client.hgetall(key) == {b"tx_count_1h": b"3", b"amount_sum_24h": b"120.5"}
    ttl: int = client.ttl(key)  # type: ignore[assignment]  # sync client: an int
    assert 0 < ttl <= 60
    client.delete(key)
    client.close()


@pytest.mark.spark
@pytest.mark.slow
def test_spark_local_reads_csv_writes_parquet(tmp_path: Path) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    csv = tmp_path / "tx.csv"
    csv.write_text(
        "transaction_id,user_id,amount\n" + "".join(f"t{i},u{i % 3},{i * 1.5}\n" for i in range(30))
    )
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("fraud-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        frame = spark.read.csv(str(csv), header=True, inferSchema=True)
        totals = frame.groupBy("user_id").agg(
            F.sum("amount").alias("total"), F.count("*").alias("n")
        )
        totals.write.parquet(str(tmp_path / "out"))
    finally:
        spark.stop()

    table = pq.read_table(tmp_path / "out").to_pandas().set_index("user_id").sort_index()
    expected = {f"u{u}": sum(i * 1.5 for i in range(30) if i % 3 == u) for u in range(3)}
    assert table["n"].tolist() == [10, 10, 10]
    assert table["total"].to_dict() == pytest.approx(expected)
