"""The stream bench's latency arithmetic: warm-up, percentiles, the split by slow stretches."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bench.host_probe import Profile
from bench.stream_bench import WARM_UP_S, cpu_seconds, measure, percentiles, split


def test_measure_leaves_out_the_warm_up_and_events_without_an_output() -> None:
    warm = int(WARM_UP_S * 1000)
    sent = {"a": 1_000, "b": 1_000 + warm, "c": 1_500 + warm, "d": 2_000 + warm}
    first = {"a": 1_010, "b": 1_020 + warm, "c": 1_530 + warm}  # d has none
    sent_ms, ms, cut = measure(sent, first)
    assert cut == 1_000 + warm
    assert sorted(zip(sent_ms.tolist(), ms.tolist(), strict=True)) == [
        (1_000.0 + warm, 20.0), (1_500.0 + warm, 30.0),
    ]  # fmt: skip


def test_percentiles_count_the_events_over_the_target() -> None:
    ms = np.array([10.0] * 97 + [49.0, 51.0, 200.0])
    got = percentiles(ms)
    assert got["p50"] == 10.0 and got["max"] == 200.0
    assert got["over"] == pytest.approx(0.02)  # 51 and 200; 49 is under 50 ms


def test_split_puts_the_events_around_a_slow_stretch_apart() -> None:
    times = np.arange(0, 3, 0.01)
    cpu = np.ones(len(times))
    cpu[100:106] = 10.0  # 1.00 s to 1.05 s: one stretch
    sent_s = np.array([0.5, 0.96, 1.02, 1.29, 1.31, 2.0])
    ms = np.array([10.0, 80.0, 90.0, 70.0, 11.0, 12.0])
    text = split("latency", Profile(times, cpu), sent_s, ms)
    assert "(3 of 6)" in text  # 0.96 (50 ms before), 1.02 (in it), 1.29 (240 ms after)
    assert "p50 / p99 80 /" in text and "the others: 11 /" in text
    assert split("latency", Profile(times, np.ones(len(times))), sent_s, ms) == ""


def test_cpu_seconds_counts_this_process_work_as_the_kernel_does() -> None:
    before, kernel_before = cpu_seconds(os.getpid()), time.process_time()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    spent, kernel_spent = cpu_seconds(os.getpid()) - before, time.process_time() - kernel_before
    assert abs(spent - kernel_spent) <= 0.05  # /proc counts in clock ticks (10 ms)
