"""Closed-loop HTTP load: N client processes, each one keep-alive connection, latencies per request.

Processes rather than threads, so that 16 clients are 16 independent callers (a Python client
thread pool would queue on its own GIL). `http.client` keeps the client's share of each latency
small (tens of microseconds). Every client warms up, then all start together at a barrier and
stop at the same deadline, so the throughput is requests completed over one common window.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Load:
    """One measurement: what came back, over which window."""

    latencies_s: list[float]
    errors: int
    wall_s: float

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q) * 1000) if self.latencies_s else 0.0


@dataclass(frozen=True)
class Target:
    port: int
    path: str
    headers: dict[str, str]


def _client(
    target: Target, bodies: Sequence[bytes], offset: int, count: int, seconds: float,
    warmup: int, barrier: Any, results: Any,
) -> None:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)

    def send(i: int) -> int:
        conn.request("POST", target.path, bodies[(offset + i) % len(bodies)], target.headers)
        response = conn.getresponse()
        response.read()
        return response.status

    for i in range(warmup):
        send(i)
    barrier.wait()
    began = time.perf_counter()
    deadline = began + seconds
    latencies: list[float] = []
    errors = 0
    i = warmup
    while (len(latencies) + errors < count) if count else (time.perf_counter() < deadline):
        started = time.perf_counter()
        status = send(i)
        if status == 200:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
        i += 1
    results.put((latencies, errors, time.perf_counter() - began))
    conn.close()


def run(
    target: Target, bodies: Sequence[bytes], clients: int, *, count: int = 0,
    seconds: float = 0.0, warmup: int = 50,
) -> Load:  # fmt: skip
    """`clients` closed loops; each sends `count` requests, or keeps sending for `seconds`."""
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    stride = max(len(bodies) // clients, 1)
    workers = [
        ctx.Process(
            target=_client,
            args=(target, bodies, k * stride, count, seconds, warmup, barrier, results),
        )
        for k in range(clients)
    ]
    for w in workers:
        w.start()
    done = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    latencies = [x for d in done for x in d[0]]
    # A timed run's window is the common one (the last request may end a little after it).
    window = max(d[2] for d in done) if count else seconds
    return Load(latencies, sum(d[1] for d in done), window)
