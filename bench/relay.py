"""The latency floor: a Python Kafka relay that copies each record to another topic, nothing else.

The stream bench runs it on the same events at the same rate as the worker, against the same
broker on the same machine, and reports its event-to-output latency beside the worker's. What the
relay takes is what Kafka, an asyncio client in Python and this machine's slow stretches
(`bench/host_probe.py`) cost before any scoring; the worker's latency less the relay's is the
worker's own. It reads like the worker (aiokafka, in a consumer group, whole fetches) and writes
like it (`streaming.outbox.Outbox`: whole batches, acknowledged by all replicas, idempotent), on
the source record's partition.

With `--predictor URL --second-topic TOPIC` it also waits, per batch, where the worker waits: a
call of the predictor's v2 endpoint with the batch's rows (all features 0, `explain` "decided",
through the worker's client) before the copies are written, and a second acknowledged write of
the batch's records (to the second topic) after they are acknowledged, as the worker writes its
state changelog. Its latency less the plain relay's is what those round trips take here; the
worker's latency less it is the worker's own work (and its reads of profiles not in its cache).

    python -m bench.relay BOOTSTRAP SOURCE SINK [--predictor URL --second-topic TOPIC]
                                                   # prints "ready" once it holds its partitions
"""

from __future__ import annotations

import argparse
import asyncio
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from feature_repo.spec import FEATURE_NAMES
from streaming.outbox import Outbox
from streaming.predictor_client import PredictorClient
from streaming.settings import StreamSettings

READY = "ready"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RoundTrips:
    """The worker's waits to make per batch: its predictor, and the topic of a second write."""

    predictor_url: str
    second_topic: str

    def args(self) -> list[str]:
        return ["--predictor", self.predictor_url, "--second-topic", self.second_topic]


async def relay(
    bootstrap: str, source: str, sink: str, stop: asyncio.Event, trips: RoundTrips | None = None
) -> None:
    """Copy every record of `source` (from its start) to `sink` until `stop` is set."""
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=f"relay-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    predictor = None
    await consumer.start()
    try:
        await producer.start()
        outbox = Outbox(producer)
        if trips is not None:
            s = StreamSettings()  # the worker's defaults: timeout, attempts, breaker
            predictor = PredictorClient(
                trips.predictor_url, s.model_name, timeout_s=s.predictor_timeout_s,
                attempts=s.predictor_attempts, breaker_failures=s.breaker_failures,
                breaker_reset_s=s.breaker_reset_s,
            )  # fmt: skip
        while not consumer.assignment():  # joined the group, partitions assigned
            await consumer.getmany(timeout_ms=100)
        sys.stdout.write(READY + "\n")
        sys.stdout.flush()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=100)
            batch = [(tp.partition, r) for tp, records in fetched.items() for r in records]
            if predictor is not None and batch:
                rows = np.zeros((len(batch), len(FEATURE_NAMES)), dtype=np.float32)
                await predictor.score(rows, explain="decided")
            await write(outbox, sink, batch)
            if trips is not None:
                await write(outbox, trips.second_topic, batch)
    finally:
        if predictor is not None:
            await predictor.aclose()
        await producer.stop()
        await consumer.stop()


async def write(outbox: Outbox, topic: str, batch: list[tuple[int, Any]]) -> None:
    """The records to `topic`, each on its source partition; back once Kafka acknowledged all."""
    for partition, record in batch:
        await outbox.add(topic, partition, record.key, record.value)
    sent = await outbox.submit()
    await asyncio.gather(*(s.future for s in sent))


class RelayProcess:
    """`python -m bench.relay` as a child process for the length of a `with` block."""

    def __init__(
        self, bootstrap: str, source: str, sink: str, log_path: Path,
        trips: RoundTrips | None = None,
    ) -> None:  # fmt: skip
        self.args = [bootstrap, source, sink, *(trips.args() if trips else [])]
        self.log_path = log_path
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> RelayProcess:
        with self.log_path.open("a") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "bench.relay", *self.args],
                cwd=Path(__file__).resolve().parent.parent,  # where `bench` is a package
                stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip
        assert self._process.stdout is not None  # noqa: S101 - a pipe, asked for above
        deadline = time.monotonic() + START_TIMEOUT_S
        line = ""
        while self._process.poll() is None and (left := deadline - time.monotonic()) > 0:
            if select.select([self._process.stdout], [], [], left)[0]:
                line = self._process.stdout.readline().strip()  # its one line, written whole
                if line == READY:
                    return self
        self.__exit__(None, None, None)
        raise RuntimeError(f"the relay did not start ({line!r}); see {self.log_path}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="The stream bench's latency floor; see above.")
    parser.add_argument("bootstrap")
    parser.add_argument("source")
    parser.add_argument("sink")
    parser.add_argument("--predictor", help="Call this predictor (its URL) for every batch.")
    parser.add_argument("--second-topic", help="Write every batch here too, after the sink.")
    args = parser.parse_args()
    if (args.predictor is None) != (args.second_topic is None):
        parser.error("--predictor and --second-topic go together")
    trips = RoundTrips(args.predictor, args.second_topic) if args.predictor else None

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await relay(args.bootstrap, args.source, args.sink, stop, trips)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
