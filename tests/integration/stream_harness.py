"""Run real stream workers (`fraud stream worker` processes) and read the topics they write.

Shared by the stream's end-to-end tests and `bench/stream_bench.py`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from kafka import KafkaConsumer, TopicPartition

from tests.unit.predictor.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StreamTopics:
    """The four topics of one worker group, private to a test."""

    transactions: str
    scores: str
    alerts: str
    dlq: str
    partitions: int

    def env(self) -> dict[str, str]:
        return {
            "FRAUD_STREAM_TOPIC_TRANSACTIONS": self.transactions,
            "FRAUD_STREAM_TOPIC_SCORES": self.scores,
            "FRAUD_STREAM_TOPIC_ALERTS": self.alerts,
            "FRAUD_STREAM_TOPIC_DLQ": self.dlq,
            "FRAUD_STREAM_PARTITIONS": str(self.partitions),
        }


def make_topics(new_topic: Callable[..., str], partitions: int = 4) -> StreamTopics:
    return StreamTopics(
        new_topic("tx", partitions), new_topic("scores", partitions), new_topic("alerts", 1),
        new_topic("dlq", 1), partitions,
    )  # fmt: skip


@dataclass
class WorkerProcess:
    """One `fraud stream worker`, configured by FRAUD_STREAM_* variables, logging to a file."""

    env: dict[str, str]
    log_path: Path
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_STREAM_")}
        env.update(self.env, FRAUD_STREAM_WEB_PORT=str(self.web_port), PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", "stream", "worker"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Until /metrics answers (the web server starts once the app has started)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log()[-5000:]}")
            try:
                answered = httpx.get(self.metrics_url, timeout=1).status_code == 200
                if answered and self.process.poll() is None:  # ours, not another's on the port
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"worker did not start in {START_TIMEOUT_S}s:\n{self.log()[-5000:]}")

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/metrics"

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of the worker's /metrics (0 when absent)."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in httpx.get(self.metrics_url, timeout=5).text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def read_topic(
    bootstrap: str, topic: str, until: Callable[[list[Any]], bool], timeout_s: float = 120.0,
) -> list[Any]:  # fmt: skip
    """Every record of `topic` from the beginning, until `until(records)` or the timeout."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(records) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record the topic holds now (its end offsets, read to the end however long it takes).

    Reading for a fixed few seconds instead returns part of a large topic on a busy machine.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        total = sum(consumer.end_offsets(tps).values())  # no compaction: offsets start at 0
    finally:
        consumer.close()
    return read_topic(bootstrap, topic, lambda r: len(r) >= total)


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]


def where_unscored(bootstrap: str, topic: str, group: str, unscored: set[str]) -> str:
    """For a failure message: the offsets of `unscored` transactions and the group's commits."""
    runs: dict[int, list[list[int]]] = {}
    for record in read_all(bootstrap, topic):
        if orjson.loads(record.value).get("transaction_id") not in unscored:
            continue
        partition_runs = runs.setdefault(record.partition, [])
        if partition_runs and partition_runs[-1][1] == record.offset - 1:
            partition_runs[-1][1] = record.offset
        else:
            partition_runs.append([record.offset, record.offset])
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:  # the group's commits, read without joining it
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        committed = {p: consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        consumer.close()
    return f"unscored offsets by partition {runs}; committed offsets {committed}"
