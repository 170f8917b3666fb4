"""Stream worker benchmark (not a test): throughput, latency and memory of `fraud stream worker`.

In one run, on this machine, against the local stack's Kafka and Redis:
- throughput: N events are produced before one worker starts and drains them (the producer far
  ahead); events/s from the first score record's Kafka timestamp to the last;
- memory: the worker's resident set (VmRSS) once it holds the state of every user it saw;
- latency: the worker caught up, new events at a steady 1,000/s for S seconds; per event, the
  score record's Kafka timestamp minus the transaction record's (both CreateTime, one clock);
- baseline: the per-event design the worker replaces (`bench/stream_baseline.py`) on M events.

    python -m bench.stream_bench [--events N --users U --latency-seconds S --baseline-events M]

Needs `fraud stack up` (Kafka, Redis). Starts its own predictor (a test ONNX model), Feast project
(profiles of all U users written online) and private topics, and removes them at the end; the
logs stay in the folder it prints. Prints the table and writes `bench/results/stream.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batch_pipeline.data.live import LiveGenerator
from batch_pipeline.data.world import build_world
from bench.stream_baseline import BaselineResult, run_baseline
from deploy.stack import StackSettings
from feature_repo.feature_views import PROFILE_VIEW
from feature_repo.spec import PROFILE_STORED
from feature_repo.store import apply_definitions, open_store
from streaming.produce import produce
from streaming.settings import StreamSettings
from tests.integration.stream_harness import StreamTopics, WorkerProcess
from tests.unit.predictor.harness import PredictorProcess, free_port
from tests.unit.predictor.onnx_models import write_model

RESULTS = Path(__file__).resolve().parent / "results" / "stream.md"
SEED, RATE, WARM_UP_S, PARTITIONS = 7, 1000.0, 2.0, 4
TARGET_RATE, TARGET_RATIO, TARGET_P99_MS = 5000.0, 10.0, 50.0
OUTCOMES = ("scored", "degraded", "dead_lettered", "replayed")
console = Console(stderr=True)


@contextmanager
def bar(label: str, total: float) -> Iterator[Callable[[float], None]]:
    """A rich progress bar; yields `advance(n)`."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@dataclass
class Run:
    """What one run starts and creates, for `close()` to stop and remove."""

    workdir: Path
    bootstrap: str
    redis: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    store: Any = None
    predictor: PredictorProcess | None = None
    worker: WorkerProcess | None = None

    def new_topic(self, kind: str, partitions: int) -> str:
        name = f"bench-{self.run_id}-{kind}"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()
        return name

    def close(self) -> None:
        for process in (self.worker, self.predictor):
            if process is not None:
                process.stop()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:  # ours, and Faust's (the app id is bench-<run_id>-worker)
            ours = [t for t in admin.list_topics() if t.startswith(f"bench-{self.run_id}-")]
            if ours:
                admin.delete_topics(ours)
        finally:
            admin.close()
        if self.store is not None:
            self.store.teardown()  # the project's keys in Redis
        for path in self.workdir.iterdir():
            if path.is_dir():  # the logs stay
                shutil.rmtree(path, ignore_errors=True)


def write_profiles(store: Any, users: int, start: datetime, at: datetime) -> None:
    """A plausible profile for every user of the generator's world, available at `at`."""
    world = build_world(users, SEED, start.astimezone(UTC).date())
    median = world.typical_amount(np.arange(users))
    frame = pd.DataFrame({
        "user_id": [f"user_{i}" for i in range(users)], "event_timestamp": pd.Timestamp(at),
        "home_latitude": world.home_lat, "home_longitude": world.home_lon,
        "amount_median_90d": median, "amount_mean_90d": median * 1.2,
        "amount_std_90d": median * 0.8, "tx_count_90d": np.round(world.daily_rate * 90),
        "distinct_merchants_90d": world.n_favourites + 8.0,
        "account_age_days": (at.timestamp() * 1e6 - world.created_us) / 86_400e6,
    })  # fmt: skip
    if set(frame.columns) != {"user_id", "event_timestamp", *PROFILE_STORED}:
        raise RuntimeError(f"profile columns {list(frame.columns)} are not {PROFILE_STORED}")
    with bar("profiles", users) as advance:
        for lo in range(0, users, 10_000):
            store.write_to_online_store(PROFILE_VIEW, frame.iloc[lo : lo + 10_000])
            advance(min(10_000, users - lo))


def read_topic(
    bootstrap: str, topic: str, partitions: int, on_record: Callable[[Any], None] | None,
    start: dict[int, int] | None = None,
) -> dict[int, int]:  # fmt: skip
    """Pass the records from `start` (default: the beginning) to the end to `on_record`.

    Returns the end offsets (without `on_record`, reads nothing and just returns them).
    """

    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, (start or {}).get(tp.partition, 0))
            while on_record and [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in batch:
                        on_record(record)
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


@dataclass
class Scores:
    """What the score records of one phase say."""

    first_ts: dict[str, int] = field(default_factory=dict)  # transaction id: its first, ms
    records: int = 0
    degraded: int = 0
    with_profile: int = 0

    def add(self, record: Any) -> None:
        value = orjson.loads(record.value)
        tid, ts = value["transaction_id"], record.timestamp
        self.first_ts[tid] = min(ts, self.first_ts.get(tid, ts))
        self.records += 1
        self.degraded += bool(value["degraded"])
        self.with_profile += value["features"]["has_profile"] == 1.0

    @property
    def span_s(self) -> float:
        return (max(self.first_ts.values()) - min(self.first_ts.values())) / 1000

    def __str__(self) -> str:
        return (
            f"{self.records:,} score records for {len(self.first_ts):,} transactions, "
            f"{self.degraded:,} degraded, {self.with_profile / max(self.records, 1):.1%} with a "
            "profile"
        )


def processed(worker: WorkerProcess) -> float:
    return sum(worker.metric("fraud_stream_events_total", f'outcome="{o}"') for o in OUTCOMES)


def wait_processed(worker: WorkerProcess, total: int, label: str, timeout_s: float) -> float:
    """Poll the worker's counters until it has taken `total` events; the monotonic time then."""
    deadline = time.monotonic() + timeout_s
    done = 0.0
    with bar(label, total) as advance:
        while done < total:
            if worker.process is None or worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited; see {worker.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: {done:,.0f} of {total:,} events in {timeout_s:.0f}s")
            now = processed(worker)
            advance(now - done)
            done = now
            if done < total:
                time.sleep(1.0)  # each scrape costs the worker's event loop a little
    return time.monotonic()


def memory_mib(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM (its peak so far) of a process, in MiB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines)
    return float(status["VmRSS"].split()[0]) / 1024, float(status["VmHWM"].split()[0]) / 1024


@dataclass
class Result:
    """The table's numbers, and the notes under it."""

    rate: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    rss_mib: float = 0.0
    users: int = 0
    baseline: BaselineResult = field(default_factory=BaselineResult)
    notes: list[str] = field(default_factory=list)
