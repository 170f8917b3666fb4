"""Stream worker benchmark (not a test): throughput, latency and memory of `fraud stream worker`.

In one run, on this machine, against the local stack's Kafka and Redis:
- throughput: N events are produced before one worker starts and drains them (the producer far
  ahead); events/s from the first score record's broker append time to the last;
- memory: the worker's resident set (VmRSS) once it holds the state of every user it saw;
- latency: the worker caught up, new events at a steady R/s (default 1,000, the target's rate)
  for S seconds; per event, the score record's broker append time (the scores topic keeps
  LogAppendTime) minus the transaction record's CreateTime (one machine, one clock);
- the floor: the same events at the same rate through a Python Kafka relay that only copies
  each record to another topic (`bench/relay.py`), for what Kafka and this machine take before any
  scoring; then through the relay making the worker's round trips per batch (a predictor call, a
  second acknowledged write), for what the design's waits take without its work;
- baseline: the per-event design the worker replaces (`bench/stream_baseline.py`) on M events;
- the machine: `bench/host_probe.py` beside the worker and the relays, for the stretches in
  which this VM runs everything several times slower; each latency measure is split by them.

    python -m bench.stream_bench [--events N --users U --latency-seconds S --rate R
                                  --baseline-events M --out FILE]

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

from batch_pipeline.data.live import LiveGenerator, start_ending_by
from batch_pipeline.data.world import build_world
from bench.host_probe import HostProbe, Profile
from bench.relay import RelayProcess, RoundTrips
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
SEED, WARM_UP_S, PARTITIONS = 7, 2.0, 4
TARGET_AT_RATE = 1000.0  # the rate the latency target is set for
TARGET_RATE, TARGET_RATIO, TARGET_P99_MS = 5000.0, 10.0, 50.0
# Events sent from this long before a slow stretch of the host (bench/host_probe.py) to this long
# after it are the stretch's: they are still in the worker when it starts, or wait behind the
# events it held up.
STRETCH_BEFORE_S, STRETCH_AFTER_S = 0.05, 0.25
OUTCOMES = ("scored", "degraded", "dead_lettered", "replayed")
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}  # a record's time: its broker append
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

    def new_topic(self, kind: str, partitions: int, configs: dict[str, str] | None = None) -> str:
        name = f"bench-{self.run_id}-{kind}"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        finally:
            admin.close()
        return name

    def close(self) -> None:
        """Undo everything, each step even when another fails (a broker gone, say)."""
        steps = [p.stop for p in (self.worker, self.predictor) if p is not None]
        steps.append(self._delete_topics)
        if self.store is not None:
            steps.append(self.store.teardown)  # the project's keys in Redis
        steps.append(self._remove_folders)
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - report it, go on with the rest
                console.log(f"cleanup: {getattr(step, '__qualname__', step)} failed: {exc!r}")

    def _delete_topics(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:  # ours, and Faust's (the app id is bench-<run_id>-worker)
            ours = [t for t in admin.list_topics() if t.startswith(f"bench-{self.run_id}-")]
            if ours:
                admin.delete_topics(ours)
        finally:
            admin.close()

    def _remove_folders(self) -> None:
        for path in self.workdir.iterdir():
            if path.is_dir():  # the logs stay
                shutil.rmtree(path)


def write_profiles(store: Any, users: int, start: datetime, at: datetime) -> None:
    """A plausible profile for every user of the generator's world, available at `at`."""
    world = build_world(users, SEED, start.astimezone(UTC).date())
    median = world.typical_amount(np.arange(users))
    # fmt: off
    frame = pd.DataFrame({
        "user_id": [f"user_{i}" for i in range(users)], "event_timestamp": pd.Timestamp(at),
        "home_latitude": world.home_lat, "home_longitude": world.home_lon,
        "amount_median_90d": median, "amount_mean_90d": median * 1.2,
        "amount_std_90d": median * 0.8, "tx_count_90d": np.round(world.daily_rate * 90),
        "distinct_merchants_90d": world.n_favourites + 8.0,
        "account_age_days": (at.timestamp() * 1e6 - world.created_us) / 86_400e6,
    })
    # fmt: on
    if set(frame.columns) != {"user_id", "event_timestamp", *PROFILE_STORED}:
        raise RuntimeError(f"profile columns {list(frame.columns)} are not {PROFILE_STORED}")
    with bar("profiles", users) as advance:
        for lo in range(0, users, 10_000):
            store.write_to_online_store(PROFILE_VIEW, frame.iloc[lo : lo + 10_000])
            advance(min(10_000, users - lo))


def read_topic(
    bootstrap: str, topic: str, on_record: Callable[[Any], None] | None,
    start: dict[int, int] | None = None, at_least: int = 0,
) -> dict[int, int]:  # fmt: skip
    """Pass the records from `start` (default: the beginning) to the end to `on_record`.

    Waits (up to a minute) until there are `at_least` records past `start` first. Returns the
    end offsets; without `on_record`, reads nothing.
    """

    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:  # every topic read here has PARTITIONS (a new consumer knows no partitions yet)
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            ends = await consumer.end_offsets(tps)
            for _ in range(120):
                if sum(ends.values()) - sum((start or {}).values()) >= at_least:
                    break
                await asyncio.sleep(0.5)
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
    # transaction id: (batch start less CreateTime, features, scoring, append less scored_at), ms
    stages: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    records: int = 0
    degraded: int = 0
    with_profile: int = 0

    def add(self, record: Any) -> None:
        value = orjson.loads(record.value)
        tid, ts = value["transaction_id"], record.timestamp
        self.first_ts[tid] = min(ts, self.first_ts.get(tid, ts))
        t = value["timings_ms"]
        scored_at_ms = datetime.fromisoformat(value["scored_at"]).timestamp() * 1000
        self.stages.setdefault(
            tid, (t["ingest_to_batch"], t["features"], t["scoring"], ts - scored_at_ms)
        )
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


def gc_pauses(worker: WorkerProcess) -> list[tuple[float, float, float]]:
    """Per generation: collections so far, their total seconds, how many took over 25 ms."""
    name, out = "fraud_stream_gc_pause_seconds", []
    for g in range(3):
        count = worker.metric(f"{name}_count", f'generation="{g}"')
        quick = worker.metric(f"{name}_bucket", f'generation="{g}",le="0.025"')
        out.append((count, worker.metric(f"{name}_sum", f'generation="{g}"'), count - quick))
    return out


def counters(worker: WorkerProcess) -> dict[str, float]:
    return {o: worker.metric("fraud_stream_events_total", f'outcome="{o}"') for o in OUTCOMES}


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
            now = sum(counters(worker).values())
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


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """The table's numbers, and the notes under it."""

    rate: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    rss_mib: float = 0.0
    users: int = 0
    baseline: BaselineResult = field(default_factory=BaselineResult)
    notes: list[str] = field(default_factory=list)
    floors: dict[str, dict[str, float]] = field(default_factory=dict)  # the relays' latencies
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)  # wall-clock windows
    # Per phase that measures latency: its measured events' CreateTime (s) and latency (ms).
    measured: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def run_bench(run: Run, args: argparse.Namespace, result: Result) -> None:
    """Set up; the throughput, then the latency phase on one worker; then the baseline."""
    # The world's time runs faster than the clock: its events are placed to end now, since the
    # worker refuses an event ahead of its arrival (the record's timestamp) by more than 15 min.
    total = args.events + int(args.rate * args.latency_s) + args.baseline_events
    start = start_ending_by(args.users, SEED, total, datetime.now(UTC), fraud_boost=1.0)
    data, project = run.workdir / "feast", f"bench_{run.run_id}"
    data.mkdir()
    run.store = open_store(data, run.redis, project)
    apply_definitions(run.store, data)
    model = write_model(run.workdir / "model" / "model.onnx", "1")
    console.log("starting the predictor")
    predictor = run.predictor = PredictorProcess(
        ["--model-uri", str(model), "--no-features"], run.workdir / "predictor.log"
    ).start()
    new = run.new_topic
    # A score's time is when the broker appended it (when a consumer can have it), not when the
    # worker built it: the worker sends a batch's records together, after its alerts' reasons.
    scores = new("scores", 4, APPEND_TIME)
    topics = StreamTopics(new("tx", 4), scores, new("alerts", 1), new("dlq", 1), 4)
    base_in, base_out = new("baseline-tx", 4), new("baseline-scores", 4)
    console.log("generating events")
    generator = LiveGenerator(args.users, SEED, start, fraud_boost=1.0)
    backlog, steady = (
        generator.events(args.events),
        generator.events(int(args.rate * args.latency_s)),
    )
    baseline = generator.events(args.baseline_events)
    last = datetime.fromisoformat((baseline or steady or backlog)[-1]["timestamp"])
    hours = (last - start) / timedelta(hours=1)
    # One snapshot online, as after a nightly materialisation: available before the first event
    # or, when the events span more than the profile view's TTL (a large backlog), as late as
    # the TTL lets the last events use it, so that the latency phase scores with profiles.
    ttl = run.store.get_feature_view(PROFILE_VIEW).ttl
    available = max(start - timedelta(minutes=1), last - ttl + timedelta(hours=1))
    write_profiles(run.store, args.users, start, available)
    result.notes.append(
        f"Event times run from {start:%Y-%m-%d %H:%M} UTC over {hours:.1f} h; every profile "
        f"became available {(available - start) / timedelta(hours=1):+.1f} h from the first "
        "(an event uses it from then to 2 days later, the profile view's TTL)."
    )
    result.users = len({e["user_id"] for e in backlog})
    for events, topic in ((backlog, topics.transactions), (baseline, base_in)):
        with bar(f"produce to {topic}", len(events)) as advance:
            produce(events, run.bootstrap, topic, 0.0, advance)
    env = {
        **topics.env(), "FRAUD_STREAM_APP_ID": f"bench-{run.run_id}-worker",
        "FRAUD_STREAM_KAFKA_BOOTSTRAP": run.bootstrap, "FRAUD_STREAM_FEAST_PROJECT": project,
        "FRAUD_STREAM_PREDICTOR_URL": predictor.url, "FRAUD_STREAM_FEATURE_DATA": str(data),
        "FRAUD_STREAM_REDIS_CONNECTION": run.redis,
        "FRAUD_STREAM_DATA_DIR": str(run.workdir / "worker-state"),
    }  # fmt: skip
    # An ephemeral port: the harness's default range is shared with tests running alongside.
    run.worker = WorkerProcess(env, run.workdir / "worker.log", web_port=free_port())
    with HostProbe() as probe:
        started = time.time()
        ends = throughput(run.worker, run.bootstrap, topics, len(backlog), result)
        result.phases["throughput"] = (started, time.time())
        started = time.time()
        latency(run.worker, run.bootstrap, topics, steady, ends, args.rate, result)
        result.phases["latency"] = (started, time.time())
        for trips in (False, True):
            started = time.time()
            name = floor(run, steady, args.rate, result, trips)
            result.phases[name] = (started, time.time())
    result.notes.append(host_note(probe.profile, result))
    console.log("baseline: one event at a time")
    with bar("baseline", len(baseline)) as advance:
        result.baseline = run_baseline(
            run.store, run.bootstrap, base_in, base_out, predictor.url, len(baseline), advance
        )


def throughput(
    worker: WorkerProcess, bootstrap: str, topics: StreamTopics, backlog: int, result: Result
) -> dict[int, int]:
    """Start the worker on the backlog, wait until it has scored it; the scores topic's ends."""
    launched = time.monotonic()
    worker.start()
    ready = time.monotonic()
    done = wait_processed(worker, backlog, "worker drains the backlog", 600 + backlog / 50)
    assert worker.process is not None  # noqa: S101 - started above
    result.rss_mib = memory_mib(worker.process.pid)[0]
    counts = ", ".join(f"{k} {v:,.0f}" for k, v in counters(worker).items())
    console.log("reading the score records")
    scores = Scores()
    ends = read_topic(bootstrap, topics.scores, scores.add, at_least=backlog)
    result.rate = (len(scores.first_ts) - 1) / scores.span_s
    result.notes.append(
        f"Throughput phase: {backlog:,} events of {result.users:,} distinct users; worker "
        f"counters: {counts}; {scores}. First to last score record {scores.span_s:.1f} s. From "
        f"the worker's launch to the last event taken {done - launched:.1f} s (of which "
        f"{ready - launched:.1f} s until its /metrics answered)."
    )
    return ends


def latency(
    worker: WorkerProcess, bootstrap: str, topics: StreamTopics, steady: list[dict[str, Any]],
    scores_start: dict[int, int], rate: float, result: Result,
) -> None:  # fmt: skip
    """New events at `rate` to the caught-up worker; per event, its score's Kafka time less its."""
    tx_start = read_topic(bootstrap, topics.transactions, None)
    taken = sum(counters(worker).values())
    gc_before = gc_pauses(worker)
    assert worker.process is not None  # noqa: S101 - started by throughput()
    cpu_before = cpu_seconds(worker.process.pid)
    with bar(f"produce {rate:,.0f} events/s", len(steady)) as advance:
        sent = produce(steady, bootstrap, topics.transactions, rate, advance)
    cpu_share = (cpu_seconds(worker.process.pid) - cpu_before) / sent.seconds
    total = int(taken) + len(steady)
    wait_processed(worker, total, "worker scores them", 120 + len(steady) / 50)
    rss, peak = memory_mib(worker.process.pid)
    gc_after = gc_pauses(worker)
    produced: dict[str, int] = {}
    read_topic(bootstrap, topics.transactions, first_times(produced), tx_start)
    scored = Scores()
    read_topic(bootstrap, topics.scores, scored.add, scores_start, at_least=len(steady))
    sent_ms, ms, cut = measure(produced, scored.first_ts)
    result.latency_ms = percentiles(ms)
    missing = sum(t not in scored.first_ts for t in produced)
    stages = np.array([scored.stages[t] for t, at in produced.items()
                       if at >= cut and t in scored.stages], dtype=np.float64)  # fmt: skip
    names = ("waiting (batch start less CreateTime)", "features", "scoring", "writing (append "
             "time less scored_at; includes the alerts' reasons)")  # fmt: skip
    result.measured["latency"] = (sent_ms / 1000, ms)  # for `host_note`
    window = ((sent_ms - sent_ms.min()) // 5000).astype(int)
    result.notes.append(
        "Latency p99 by 5 s of sending (ms): "
        + ", ".join(f"{np.percentile(ms[window == w], 99):,.0f}" for w in np.unique(window))
        + "."
    )
    p50, p99 = np.percentile(stages, 50, axis=0), np.percentile(stages, 99, axis=0)
    result.notes.append(
        "Latency by stage, p50 / p99 (ms): "
        + "; ".join(f"{n} {a:,.1f} / {b:,.1f}" for n, a, b in zip(names, p50, p99, strict=True))
        + "."
    )
    result.notes.append(
        "Python garbage collections in the latency phase (generation: count, total ms, over "
        "25 ms): "
        + "; ".join(
            f"{g}: {a[0] - b[0]:,.0f}, {(a[1] - b[1]) * 1000:,.0f}, {a[2] - b[2]:,.0f}"
            for g, (b, a) in enumerate(zip(gc_before, gc_after, strict=True))
        )
        + "."
    )
    result.notes += [
        f"Latency phase: {sent.sent:,} events sent at {sent.rate:,.0f}/s over {sent.seconds:.1f} "
        f"s; {scored}; {missing} events without a score record; the first {WARM_UP_S:.0f} s of "
        f"events left out as warm-up, {len(ms):,} measured. Latency: the score record's Kafka "
        "append time (LogAppendTime) less the transaction record's CreateTime (ms, one clock).",
        f"Worker memory (VmRSS): {result.rss_mib:,.0f} MiB after the backlog ({result.users:,} "
        f"users' state), {rss:,.0f} MiB after the latency phase; peak (VmHWM) {peak:,.0f} MiB.",
        f"Worker CPU while the latency phase's events were sent: {cpu_share:.0%} of a core (user "
        "and system time of all its threads, from /proc; the headroom it has when the machine "
        "slows down).",
    ]
    worker.stop()
    log = worker.log().splitlines()
    flagged = [line for line in log if any(w in line for w in ("ERROR", "Traceback", "WARNING"))]
    first = f"; the first: `{flagged[0][:160].strip()}`" if flagged else ""
    result.notes.append(
        f"Worker log `{worker.log_path}`: {len(log):,} lines, {len(flagged)} with ERROR, WARNING "
        f"or Traceback{first}."
    )


def first_times(into: dict[str, int]) -> Callable[[Any], None]:
    """A `read_topic` callback: each transaction id's first record's Kafka time, into `into`."""

    def keep(record: Any) -> None:
        into.setdefault(orjson.loads(record.value)["transaction_id"], record.timestamp)

    return keep


def measure(sent: dict[str, int], first: dict[str, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Per event after the warm-up that has an output: its CreateTime and latency, in ms.

    `sent` and `first` map a transaction id to its record's CreateTime and to the broker's append
    time of its first output record. Also returns the warm-up's end (ms).
    """
    cut = min(sent.values()) + int(WARM_UP_S * 1000)
    pairs = [(at, first[t] - at) for t, at in sent.items() if at >= cut and t in first]
    array = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return array[:, 0], array[:, 1], cut


def percentiles(ms: np.ndarray) -> dict[str, float]:
    """p50, p99, max and the share of events over the p99 target."""
    return {
        "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()), "over": float(np.mean(ms > TARGET_P99_MS)),
    }  # fmt: skip


def floor(run: Run, steady: list[dict[str, Any]], rate: float, result: Result, trips: bool) -> str:
    """The latency phase's events at its rate through `bench/relay.py`; the phase's name."""
    name = "round trips" if trips else "relay"
    slug = name.replace(" ", "-")
    source = run.new_topic(f"{slug}-tx", PARTITIONS)
    sink = run.new_topic(f"{slug}-out", PARTITIONS, APPEND_TIME)
    waits = None
    if trips:
        assert run.predictor is not None  # noqa: S101 - started by run_bench
        waits = RoundTrips(run.predictor.url, run.new_topic("round-trips-second", PARTITIONS))
    with RelayProcess(run.bootstrap, source, sink, run.workdir / f"{name}.log", waits):
        with bar(f"{name}: produce {rate:,.0f} events/s", len(steady)) as advance:
            produce(steady, run.bootstrap, source, rate, advance)
        first: dict[str, int] = {}  # read once every copy is there, while the relay idles
        copied = read_topic(run.bootstrap, sink, first_times(first), at_least=len(steady))
    sent: dict[str, int] = {}
    read_topic(run.bootstrap, source, first_times(sent))
    sent_ms, ms, _ = measure(sent, first)
    result.measured[name] = (sent_ms / 1000, ms)
    got = result.floors[name] = percentiles(ms)
    what = (
        "a relay that makes the worker's round trips per batch: a predictor call with the "
        "batch's rows (features all 0), then the copies, then a second acknowledged write of them"
        if trips
        else "a relay that copies each record to another topic and does nothing else"
    )
    result.notes.append(
        f"{name.capitalize()} phase (`bench/relay.py`, {what}; the latency phase's "
        f"{len(steady):,} events at the same rate, the worker stopped): "
        f"{sum(copied.values()):,} records copied, {sum(t not in first for t in sent)} events "
        f"without a copy, {len(ms):,} measured after the warm-up. p50 / p99 / max "
        f"{got['p50']:,.0f} / {got['p99']:,.0f} / {got['max']:,.0f} ms, {got['over']:.2%} of "
        f"events over {TARGET_P99_MS:.0f} ms (the worker: {result.latency_ms['over']:.2%})."
    )
    return name


def host_note(profile: Profile, result: Result) -> str:
    """The host probe's view of each phase, and the latency apart from its slow stretches."""
    phases = {name: profile.window(*span) for name, span in result.phases.items()}
    text = "Host probe (`bench/host_probe.py`, about 3% of a core): " + "; ".join(
        f"{name} phase: {p.summary()}" for name, p in phases.items()
    )
    splits = [
        split(name, phases[name], *result.measured[name])
        for name in ("latency", "relay", "round trips")
        if name in phases and name in result.measured
    ]  # fmt: skip
    return text + "".join(f". {t}" for t in splits if t) + "."


def split(name: str, during: Profile, sent_s: np.ndarray, ms: np.ndarray) -> str:
    """The latency of a phase's events near the host's slow stretches, and of the others."""
    if not len(ms):
        return ""
    held = np.zeros(len(sent_s), dtype=bool)
    for s in during.stretches():
        held |= (sent_s >= s.start - STRETCH_BEFORE_S) & (sent_s <= s.end + STRETCH_AFTER_S)
    clear = ~held
    if not clear.any() or not held.any():
        return ""
    return (
        f"{name.capitalize()} phase, the events sent from {STRETCH_BEFORE_S * 1000:.0f} ms "
        f"before a slow stretch to {STRETCH_AFTER_S * 1000:.0f} ms after it ({held.sum():,} of "
        f"{len(ms):,}): p50 / p99 {np.percentile(ms[held], 50):,.0f} / "
        f"{np.percentile(ms[held], 99):,.0f} ms; the others: {np.percentile(ms[clear], 50):,.0f} "
        f"/ {np.percentile(ms[clear], 99):,.0f} ms (not the target's measure, which is all events)"
    )


def report(args: argparse.Namespace, result: Result) -> str:
    base, lat, load = result.baseline, result.latency_ms, os.getloadavg()
    relay, trips = (result.floors.get(k, {}) for k in ("relay", "round trips"))
    ratio = result.rate / base.rate if base.rate else 0.0
    defaults = StreamSettings.model_fields
    worker = ", ".join(f"{k} {defaults[k].default}" for k in ("batch_max", "linger_ms", "store"))
    at = f"at {args.rate:,.0f} events/s (ms)"
    p99_target = args.rate >= TARGET_AT_RATE  # the target holds at 1,000 events/s and above
    rows = [  # measure, result, target, met (None: no target)
        ("Worker throughput, backlog (events/s)", f"{result.rate:,.0f}",
         f">= {TARGET_RATE:,.0f}", result.rate >= TARGET_RATE),
        ("Baseline throughput, one event at a time (events/s)", f"{base.rate:,.1f}", "", None),
        ("Worker / baseline", f"{ratio:,.1f}x", f">= {TARGET_RATIO:.0f}x", ratio >= TARGET_RATIO),
        (f"Event-to-score latency p50 {at}", f"{lat['p50']:,.0f}", "", None),
        (f"Event-to-score latency p99 {at}", f"{lat['p99']:,.0f}",
         f"< {TARGET_P99_MS:.0f}" if p99_target else "",
         lat["p99"] < TARGET_P99_MS if p99_target else None),
        (f"Event-to-score latency max {at}", f"{lat['max']:,.0f}", "", None),
        (f"Events over {TARGET_P99_MS:.0f} ms {at.removesuffix(' (ms)')}",
         f"{lat['over']:.2%}", "", None),
        (f"Floor: a Kafka relay's latency p50 / p99 {at}",
         f"{relay.get('p50', 0):,.0f} / {relay.get('p99', 0):,.0f}", "", None),
        (f"Floor: the relay with the worker's round trips, p50 / p99 {at}",
         f"{trips.get('p50', 0):,.0f} / {trips.get('p99', 0):,.0f}", "", None),
        (f"Worker resident memory, {result.users:,} users' state (MiB)",
         f"{result.rss_mib:,.0f}", "reported", None),
    ]  # fmt: skip
    verdict = {None: "", True: "pass", False: "**FAIL**"}
    lines = [
        "# Stream worker benchmark", "",
        " ".join(["`python -m bench.stream_bench", *sys.argv[1:]]) + "`", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: nproc "
        f"{os.cpu_count()}, Python {platform.python_version()}; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min; the machine is shared). "
        f"Settings: {args.events:,} backlog events, {args.users:,} users, {args.rate:,.0f} "
        f"events/s for {args.latency_s:.0f} s, {args.baseline_events:,} baseline events; one "
        f"worker ({PARTITIONS} partitions, {worker}), one predictor process (a test ONNX "
        f"model), the stack's Kafka and Redis; events of LiveGenerator(seed {SEED}, "
        "fraud_boost 1).", "",
        "| measure | result | target | verdict |", "| --- | ---: | ---: | --- |",
        *(f"| {m} | {r} | {t} | {verdict[ok]} |" for m, r, t, ok in rows), "",
        *(f"- {n}" for n in result.notes), f"- Baseline: {base}.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Stream worker benchmark; see the module doc.")
    parser.add_argument("--events", type=int, default=200_000, help="The throughput backlog.")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--latency-seconds", dest="latency_s", type=float, default=60.0)
    parser.add_argument(
        "--rate", type=float, default=TARGET_AT_RATE,
        help="Events/s of the latency phase (the p99 target is for 1,000 and above).",
    )  # fmt: skip
    parser.add_argument("--baseline-events", type=int, default=3_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    settings = StackSettings()
    workdir = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    run = Run(workdir, settings.kafka_bootstrap, settings.feast_redis)
    console.log(f"logs in {run.workdir}")
    result = Result()
    try:
        run_bench(run, args, result)
    finally:
        run.close()
    text = report(args, result)
    sys.stdout.write(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
