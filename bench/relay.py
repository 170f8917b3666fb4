"""The latency floor: a Python Kafka relay that copies each record to another topic, nothing else.

The stream bench runs it on the same events at the same rate as the worker, against the same
broker on the same machine, and reports its event-to-output latency beside the worker's. What the
relay takes is what Kafka, an asyncio client in Python and this machine's slow stretches
(`bench/host_probe.py`) cost before any scoring; the worker's latency less the relay's is the
worker's own. It reads like the worker (aiokafka, in a consumer group, whole fetches) and writes
like it (`streaming.outbox.Outbox`: whole batches, acknowledged by all replicas, idempotent), on
the source record's partition.

    python -m bench.relay BOOTSTRAP SOURCE SINK    # prints "ready" once it holds its partitions
"""

from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streaming.outbox import Outbox

READY = "ready"
START_TIMEOUT_S = 60.0


async def relay(bootstrap: str, source: str, sink: str, stop: asyncio.Event) -> None:
    """Copy every record of `source` (from its start) to `sink` until `stop` is set."""
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=f"relay-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    try:
        await producer.start()
        outbox = Outbox(producer)
        while not consumer.assignment():  # joined the group, partitions assigned
            await consumer.getmany(timeout_ms=100)
        sys.stdout.write(READY + "\n")
        sys.stdout.flush()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=100)
            for tp, records in fetched.items():
                for record in records:
                    await outbox.add(sink, tp.partition, record.key, record.value)
            sent = await outbox.submit()
            await asyncio.gather(*(s.future for s in sent))
    finally:
        await producer.stop()
        await consumer.stop()


class RelayProcess:
    """`python -m bench.relay` as a child process for the length of a `with` block."""

    def __init__(self, bootstrap: str, source: str, sink: str, log_path: Path) -> None:
        self.args = [bootstrap, source, sink]
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
    if len(sys.argv) != 4:
        sys.stderr.write("usage: python -m bench.relay BOOTSTRAP SOURCE SINK\n")
        return 2

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        bootstrap, source, sink = sys.argv[1:4]
        await relay(bootstrap, source, sink, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
