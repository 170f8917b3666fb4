"""A real `faust worker` against the broker: table state survives a restart via its changelog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from deploy.stack.process import port_is_free
from tests.conftest import unique

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _free_port() -> int:
    port = 26066
    while not port_is_free("127.0.0.1", port):
        port += 1
    return port


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_from = 0  # where the log of the last start begins

    def start(self) -> None:
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "faust",
                    "-A",
                    "tests.integration.faust_counter_app",
                    "worker",
                    "-l",
                    "info",
                ],  # fmt: skip
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
            )

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until the last start of the worker logs Faust's "Worker: Ready" (recovery done)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.log.open("rb") as log:
                log.seek(self.log_from)
                if b"[^Worker]: Ready" in log.read():
                    return
            assert self.proc is not None and self.proc.poll() is None, f"worker exited: {self.log}"
            time.sleep(0.2)
        raise AssertionError(f"the worker was not ready in {timeout_s:.0f} s: {self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def worker(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> Iterator[tuple[Worker, str, str]]:
    app_id = unique("counter")
    source, sink = new_topic("counter-in"), new_topic("counter-out")
    env = {
        "COUNTER_APP_ID": app_id,
        "COUNTER_BOOTSTRAP": kafka_bootstrap,
        "COUNTER_DATADIR": str(tmp_path / "data"),
        "COUNTER_WEB_PORT": str(_free_port()),
        "COUNTER_IN": source,
        "COUNTER_OUT": sink,
    }
    w = Worker(env, tmp_path / "worker.log")
    yield w, source, sink
    w.stop()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    internal = [t for t in admin.list_topics() if t.startswith(app_id)]
    if internal:
        admin.delete_topics(internal)
    admin.close()


def _read_counts(
    consumer: KafkaConsumer, expected: int, timeout_s: float = 60
) -> list[tuple[str, int]]:
    got: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend((r.key.decode(), int(r.value.decode())) for r in records)
    return got


def _wait_committed(bootstrap: str, group: str, topic: str, records: int) -> None:
    """Until the group has committed offsets past `records` records of `topic` (commit_interval
    is 0.5 s, but a busy machine can take longer; a restart before it replays or skips)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            offsets = admin.list_group_offsets(group).get(group, {})
            if sum(o.offset for tp, o in offsets.items() if tp.topic == topic) >= records:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise AssertionError(f"group {group} did not commit {records} records of {topic} in 60 s")


def test_table_state_survives_worker_restart(
    worker: tuple[Worker, str, str], kafka_bootstrap: str
) -> None:
    w, source, sink = worker
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    # Faust's default serializer for str values is raw bytes; keys likewise.
    consumer = KafkaConsumer(sink, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")

    w.start()
    for key in ["alice", "alice", "bob", "alice", "bob"]:
        producer.send(source, key=key.encode(), value=b"tx")
    producer.flush()
    before = _read_counts(consumer, 5)
    assert before[-1] in {("alice", 3), ("bob", 2)}
    assert max(c for k, c in before if k == "alice") == 3
    assert max(c for k, c in before if k == "bob") == 2
    _wait_committed(kafka_bootstrap, w.env["COUNTER_APP_ID"], source, 5)
    w.stop()

    w.start()
    # Sent once the restarted worker is ready: records fetched while Faust resumes its flow at
    # the end of recovery, before it seeks to the committed offsets, can be lost (Faust 0.15.3:
    # one CI run processed carol's record and never alice's, sent just before it).
    w.wait_ready()
    producer.send(source, key=b"alice", value=b"tx")
    producer.send(source, key=b"carol", value=b"tx")
    producer.flush()
    after = dict(_read_counts(consumer, 2))
    producer.close()
    consumer.close()
    assert after == {"alice": 4, "carol": 1}, f"worker log: {w.log}"
