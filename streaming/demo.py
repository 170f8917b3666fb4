"""`fraud demo`: the main job end to end on the local stack, with the commands a user would run.

Generates a month of transactions, prepares features with Spark, loads them into Feast, trains and
registers a champion, starts the predictor and one stream worker, produces a live stream with
injected fraud (the day or so after the month, up to now, sent at the given rate), prints the
alerts as they arrive, and stops what it started. Every step is the `fraud` command shown in the
README, run as a child process. The stream part runs on topics and a consumer group of its own
(`DemoRun`), removed at the end, so that a second run starts as afresh as the first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from rich.console import Console

from batch_pipeline.data.live import last_event_time, start_ending_by
from deploy.stack.kafka import create_topics
from deploy.stack.settings import StackSettings
from feature_repo.spec import PROFILE_AVAILABLE_AFTER, PROFILE_TTL
from streaming.tail import Alert, alert_line, tail

console = Console()
LIVE_SEED, LIVE_FRAUD_BOOST = 1, 10.0  # the live stream's world (`fraud produce --seed`), fraud x10


def history_end(live_start: datetime) -> datetime:
    """The end of the history to train on: the latest midnight (UTC) whose profile snapshot is
    available by the live stream's start. The online store holds each user's newest snapshot
    only, and the stream uses it only for events after it became available."""
    available_by = live_start.astimezone(UTC) - PROFILE_AVAILABLE_AFTER
    return available_by.replace(hour=0, minute=0, second=0, microsecond=0)


def profiles_reach(live_start: datetime) -> datetime:
    """The last event time the stream scores with a profile: the history's newest snapshot (of
    its end) becomes available `PROFILE_AVAILABLE_AFTER` later and is used for `PROFILE_TTL`."""
    return history_end(live_start) + PROFILE_AVAILABLE_AFTER + PROFILE_TTL


def _fraud(*args: str) -> list[str]:
    return [sys.executable, "-m", "deploy.cli", *args]


def _step(title: str, *args: str) -> None:
    console.rule(f"[bold]{title}[/bold]")
    console.print(f"$ fraud {' '.join(args)}", style="dim")
    started = time.monotonic()
    if subprocess.run(_fraud(*args), check=False).returncode != 0:  # noqa: S603
        console.print(f"[red]`fraud {' '.join(args)}` failed[/red]")
        raise typer.Exit(1)
    console.print(f"[green]done in {time.monotonic() - started:.0f} s[/green]")


def _wait(url: str, what: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            console.print(f"[red]{what} exited ({proc.returncode}); see its log[/red]")
            raise typer.Exit(1)
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    console.print(f"[red]{what} did not become ready in {timeout_s:.0f} s[/red]")
    raise typer.Exit(1)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(
    users: Annotated[int, typer.Option(min=100, help="Card holders in the world.")] = 12_000,
    days: Annotated[int, typer.Option(min=7, help="Days of history to train on.")] = 30,
    seconds: Annotated[int, typer.Option(min=5, help="How long the live stream runs.")] = 60,
    rate: Annotated[float, typer.Option(min=1, help="Live transactions per second.")] = 300.0,
    out: Annotated[Path, typer.Option(help="Working folder.")] = Path("out/demo"),
) -> None:
    """Generate, prepare, train, serve and stream: alerts on a live stream with injected fraud."""
    stack = StackSettings()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    count = int(seconds * rate)
    # The live stream is a world simulated faster than the clock, placed to end now (the worker
    # refuses events ahead of their arrival); the history to train on ends before it starts, at
    # the newest midnight whose profiles are out by then.
    live_start = start_ending_by(users, LIVE_SEED, count, datetime.now(UTC), LIVE_FRAUD_BOOST)
    start_day = (history_end(live_start) - timedelta(days=days)).strftime("%Y-%m-%d")
    last = last_event_time(users, LIVE_SEED, live_start, count, LIVE_FRAUD_BOOST)
    reach = profiles_reach(live_start)
    if last is not None and last > reach:
        console.print(
            f"[yellow]The live stream runs to {last.astimezone(UTC):%Y-%m-%d %H:%M} UTC, past "
            f"{reach:%Y-%m-%d %H:%M} UTC, when the history's last profiles expire (the profile "
            "view's TTL): its later events are scored without a profile (has_profile = 0). "
            "More --users (the same transactions then span fewer days) or fewer transactions "
            "(--seconds × --rate) keep it within.[/yellow]"
        )
    raw, data = out / "raw", out / "features"
    _step("1. Generate a month of card transactions", "data", "generate", "--users",
          str(users), "--days", str(days), "--start", start_day, "--out", str(raw),
          "--no-progress")  # fmt: skip
    _step("2. Prepare point-in-time features (Spark)", "data", "prepare", "--raw", str(raw),
          "--out", str(data))  # fmt: skip
    _step("3. Register the features and load the online store (Feast)", "features", "apply",
          "--data", str(data))  # fmt: skip
    _step("   ", "features", "materialize", "--data", str(data))
    _step("4. Build the training set (Feast point-in-time join)", "data", "training-set",
          "--prepared", str(data), "--out", str(out / "training_set.parquet"))  # fmt: skip
    _step("5. Train, evaluate, register; promote if it beats the champion", "train", "--data",
          str(out / "training_set.parquet"), "--out", str(out / "model"), "--register",
          "--epochs", "15")  # fmt: skip

    predictor = worker = None
    run: DemoRun | None = None
    logs = {name: (out / f"{name}.log").open("wb") for name in ("predictor", "worker")}
    try:
        console.rule("[bold]6. Start the predictor and one stream worker[/bold]")
        predictor = subprocess.Popen(  # noqa: S603
            _fraud("serve", "--feature-data", str(data)), stdout=logs["predictor"],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait(f"http://{stack.host}:{stack.predictor_port}/v2/models/fraud-detector/ready",
              "the predictor", predictor)  # fmt: skip
        run = DemoRun.new(stack, out)
        worker_env = {**os.environ, **run.worker_env(), "FRAUD_STREAM_FEATURE_DATA": str(data)}
        worker = subprocess.Popen(  # noqa: S603
            _fraud("stream", "worker"), stdout=logs["worker"], stderr=subprocess.STDOUT,
            env=worker_env,
        )  # fmt: skip
        _wait(f"http://{stack.host}:{stack.worker_web_port}/metrics", "the worker", worker)
        console.print(f"logs: {out}/predictor.log, {out}/worker.log; this run's topics: "
                      f"{', '.join(run.topics.values())}")  # fmt: skip

        console.rule(f"[bold]7. Live stream for {seconds} s with injected fraud[/bold]")
        producer = subprocess.Popen(  # noqa: S603
            _fraud("produce", "--live", "--users", str(users), "--count", str(count), "--rate",
                   str(rate), "--seed", str(LIVE_SEED), "--start", live_start.isoformat(),
                   "--fraud-boost", str(LIVE_FRAUD_BOOST), "--labels-out",
                   str(out / "labels.jsonl"), "--topic", run.topics["transactions"],
                   "--no-progress"),
        )  # fmt: skip
        alerts: list[Alert] = []

        def show(alert: Alert) -> None:
            alerts.append(alert)
            console.print(alert_line(alert))

        reader = threading.Thread(
            target=tail, args=(stack.kafka_bootstrap, run.topics["alerts"]),
            kwargs={"on_alert": show, "idle_timeout_s": 20.0}, daemon=True,
        )  # fmt: skip
        reader.start()
        producer.wait()
        reader.join(timeout=60)
        fraud = _labels(out / "labels.jsonl")
        caught = sum(1 for a in alerts if fraud.get(str(a.get("transaction_id"))))
        console.rule("[bold]Summary[/bold]")
        console.print(
            f"{count} transactions produced, {sum(fraud.values())} of them fraud; "
            f"{len(alerts)} alerts, {caught} on real fraud. "
            f"Took {time.monotonic() - started:.0f} s."
        )
    finally:
        _stop(worker)
        _stop(predictor)
        for log in logs.values():
            log.close()
        if run is not None:
            run.remove_topics()


@dataclass(frozen=True)
class DemoRun:
    """One demo's own topics, consumer group and worker state, so that a run starts afresh.

    Each run's live stream ends at its own start time; a worker that kept the users' state of an
    earlier run (whose events end later) would dead-letter most events as too late.
    """

    stack: StackSettings
    app_id: str
    data_dir: Path
    topics: dict[str, str]  # role -> this run's topic

    @classmethod
    def new(cls, stack: StackSettings, out: Path) -> DemoRun:
        run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        keyed = stack.transactions_partitions
        roles = {"transactions": keyed, "scores": keyed, "alerts": 1, "dlq": 1}
        topics = {role: f"demo-{run_id}-{role}" for role in roles}
        admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap, client_id="fraud-demo")
        create_topics(admin, {topics[role]: n for role, n in roles.items()})
        data_dir = out / "stream"
        shutil.rmtree(data_dir, ignore_errors=True)
        return cls(stack, f"fraud-demo-{run_id}", data_dir, topics)

    def worker_env(self) -> dict[str, str]:
        return {
            "FRAUD_STREAM_APP_ID": self.app_id,
            "FRAUD_STREAM_DATA_DIR": str(self.data_dir),
            **{f"FRAUD_STREAM_TOPIC_{role.upper()}": t for role, t in self.topics.items()},
        }

    def remove_topics(self) -> None:
        """This run's topics and its worker's changelog; the logs in `out` stay."""
        admin = KafkaAdminClient(
            bootstrap_servers=self.stack.kafka_bootstrap, client_id="fraud-demo"
        )
        try:
            ours = [
                t for t in admin.list_topics() if t.startswith((*self.topics.values(), self.app_id))
            ]
            if ours:
                admin.delete_topics(ours)
        except KafkaError as exc:
            console.print(f"[yellow]could not remove the demo's topics: {exc!r}[/yellow]")
        finally:
            admin.close()


def _labels(path: Path) -> dict[str, bool]:
    import orjson

    if not path.exists():
        return {}
    rows = (orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip())
    return {str(r["transaction_id"]): bool(r.get("is_fraud")) for r in rows}
