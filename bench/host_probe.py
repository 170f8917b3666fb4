"""How fast this machine runs CPU work from moment to moment, beside a benchmark.

A probe process runs the same small piece of pure-Python work (about 0.3 ms) every 10 ms and
records how much CPU time each run took. CPU time does not count time spent waiting for a core,
so other processes competing for the CPUs barely move it; what moves it is the core running
slower. On the shared 2-core development VM it does, with nothing else running: every 1.3-1.6 s
the same work takes 10-18 times as long for some 100-150 ms. The stream worker, which keeps up
with 1,000 events/s on about half a core, then needs several cores' worth for that long, and the
events of the stretch wait.

    python -m bench.host_probe SECONDS   # alone: prints the machine's profile over SECONDS

`HostProbe` runs it beside a benchmark; `stretches()` finds the slow stretches in the samples.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

WORK_ITERATIONS = 4000  # about 0.27 ms of CPU on the development VM
INTERVAL_S = 0.01
SLOW_FACTOR = 4.0  # a run this many times the median is slowed by the host, not by contention
MERGE_S = 0.05  # slow runs this close together are one stretch


def _work() -> int:
    total = 0
    for i in range(WORK_ITERATIONS):
        total += i * i
    return total


def probe(out: Path, seconds: float, stopped: Callable[[], bool] = lambda: False) -> None:
    """Run the work every INTERVAL_S, appending "wall time<TAB>CPU ms" lines to `out`."""
    deadline = time.time() + seconds
    with out.open("w", buffering=1 << 16) as f:
        while not stopped() and time.time() < deadline:
            cpu = time.thread_time()
            _work()
            f.write(f"{time.time():.4f}\t{(time.thread_time() - cpu) * 1000:.4f}\n")
            time.sleep(INTERVAL_S)


@dataclass(frozen=True)
class Stretch:
    """A stretch of slow runs: its first and last slow run's time, and the worst slowdown."""

    start: float
    end: float
    worst: float


@dataclass(frozen=True)
class Profile:
    """The probe's samples over a window: times (s) and CPU ms per run."""

    times: np.ndarray
    cpu_ms: np.ndarray

    @classmethod
    def read(cls, path: Path) -> Profile:
        rows = [line.split("\t") for line in path.read_text().splitlines() if "\t" in line]
        data = np.array(rows, dtype=np.float64).reshape(-1, 2)
        return cls(data[:, 0], data[:, 1])

    def window(self, start: float, end: float) -> Profile:
        keep = (self.times >= start) & (self.times <= end)
        return Profile(self.times[keep], self.cpu_ms[keep])

    @property
    def median_ms(self) -> float:
        return float(np.median(self.cpu_ms)) if len(self.cpu_ms) else 0.0

    def stretches(self) -> list[Stretch]:
        """Runs over SLOW_FACTOR times the median, merged when under MERGE_S apart."""
        out: list[Stretch] = []
        median = self.median_ms
        for t, ms in zip(self.times.tolist(), self.cpu_ms.tolist(), strict=True):
            if ms < SLOW_FACTOR * median:
                continue
            if out and t - out[-1].end < MERGE_S:
                last = out[-1]
                out[-1] = Stretch(last.start, t, max(last.worst, ms / median))
            else:
                out.append(Stretch(t, t, ms / median))
        return out

    def summary(self) -> str:
        """One sentence on the window: the median run, and the slow stretches."""
        if len(self.times) < 2:
            return "too few probe samples"
        span = float(self.times[-1] - self.times[0])
        found = self.stretches()
        slow_s = sum(s.end - s.start + INTERVAL_S for s in found)
        worst = f" (worst {max(s.worst for s in found):.0f}x)" if found else ""
        p99 = float(np.percentile(self.cpu_ms, 99)) / self.median_ms
        return (
            f"{len(self.times):,} runs over {span:.0f} s, median {self.median_ms:.3f} ms of CPU, "
            f"p99 {p99:.1f}x the median; {len(found)} stretches of runs over {SLOW_FACTOR:.0f}x"
            f"{worst}, {slow_s / span:.1%} of the time"
        )


class HostProbe:
    """The probe as a child process for the length of a `with` block."""

    def __init__(self, limit_s: float = 4 * 3600) -> None:
        self.limit_s = limit_s
        fd, name = tempfile.mkstemp(prefix="host-probe-", suffix=".tsv")
        os.close(fd)  # the child writes it
        self.path = Path(name)
        self._process: subprocess.Popen[bytes] | None = None
        self.profile = Profile(np.empty(0), np.empty(0))

    def __enter__(self) -> HostProbe:
        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "bench.host_probe", str(self.limit_s), str(self.path)],
            cwd=Path(__file__).resolve().parent.parent,  # where `bench` is a package
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
        self.profile = Profile.read(self.path)
        self.path.unlink(missing_ok=True)


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    if len(sys.argv) > 2:  # as HostProbe's child: write the samples there until terminated
        terminated: list[int] = []
        signal.signal(signal.SIGTERM, lambda number, _: terminated.append(number))
        probe(Path(sys.argv[2]), seconds, lambda: bool(terminated))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "probe.tsv"
        probe(out, seconds)
        profile = Profile.read(out)
    sys.stdout.write(profile.summary() + "\n")
    for s in profile.stretches():
        at, length = s.start - profile.times[0], 1000 * (s.end - s.start)
        sys.stdout.write(f"  at {at:7.2f} s  {length:4.0f} ms  worst {s.worst:4.1f}x\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
