"""`fraud stream worker`: run the scorer as a Faust worker until stopped (SIGTERM or Ctrl-C).

Every setting is `FRAUD_STREAM_<NAME>` in the environment (streaming/settings.py); the options
here override the few one changes per run. Start a second worker with another `--web-port` and
`--data-dir` and the two share the partitions of one consumer group.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from deploy.stack.settings import unknown_variables
from streaming.metrics import GC_PAUSE
from streaming.settings import StreamSettings

GC_THRESHOLD_0 = 50_000  # allocations between young collections (CPython's default: 700)

LONG_GC_PAUSE_S = 0.025
log = logging.getLogger(__name__)

app = typer.Typer(help="The stream scorer (Faust).", no_args_is_help=True)


@app.command("worker")
def worker(
    web_port: Annotated[int | None, typer.Option(help="/metrics port (default 16066).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Local state folder (default .stack/stream).")
    ] = None,
    predictor_url: Annotated[
        str | None, typer.Option(help="The predictor (default http://127.0.0.1:18081).")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = None,
) -> None:
    """Consume `transactions`, score every event, write scores, alerts and dead letters."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "web_port": web_port,
            "data_dir": data_dir,
            "predictor_url": predictor_url,
            "log_level": log_level.upper() if log_level else None,
        }.items()  # fmt: skip
        if v is not None
    }
    if unknown := unknown_variables(StreamSettings, os.environ):
        typer.echo(f"unknown stream settings: {'; '.join(unknown)}", err=True)
        raise typer.Exit(2)
    try:
        settings = StreamSettings(**overrides)
    except ValidationError as exc:
        typer.echo(f"invalid stream settings (FRAUD_STREAM_* or options):\n{exc}", err=True)
        raise typer.Exit(2) from exc
    run(settings)


def run(settings: StreamSettings) -> None:
    """Build the app and hand it to Faust's worker, which runs until a signal stops it."""
    from streaming.app import build_app

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file there, or no permission
        typer.echo(f"cannot use {settings.data_dir} for the worker's state: {exc}", err=True)
        raise typer.Exit(2) from exc
    if problem := kafka_problem(settings):
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    try:
        faust_app = build_app(settings)
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    tune_gc()
    faust_app.Worker(loglevel=settings.log_level.lower()).execute_from_commandline()


def kafka_problem(settings: StreamSettings) -> str | None:
    """What keeps the worker from running against the broker, checked before Faust starts.

    Without it a broker that is down ends in a long Faust traceback, and a transactions topic
    that does not exist yet leaves a worker that looks ready but has no partitions, and never
    takes them when the topic comes (Faust logs "Ignoring missing topic" once). One look at the
    cluster's metadata, all topics: asking for the ones named would have the broker create them.
    """
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    async def metadata() -> Any:
        client = AIOKafkaClient(
            bootstrap_servers=settings.kafka_bootstrap, client_id=f"{settings.app_id}-preflight",
            request_timeout_ms=10_000,
        )  # fmt: skip
        try:
            await client.bootstrap()
            return await client.fetch_all_metadata()
        finally:
            await client.close()

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs each failed connection; the message below says it
    try:
        cluster = asyncio.run(metadata())
    except (KafkaError, OSError, TimeoutError) as exc:
        return (
            f"cannot reach Kafka at {settings.kafka_bootstrap} (FRAUD_STREAM_KAFKA_BOOTSTRAP): "
            f"{exc}; is it running? `fraud stack up` starts the local one"
        )
    finally:
        quiet.setLevel(level)
    prefix = StreamSettings.model_config.get("env_prefix", "")
    topics = {  # the topic settings, by their variables
        f"{prefix}{name.upper()}": getattr(settings, name)
        for name in StreamSettings.model_fields
        if name.startswith("topic_")
    }
    if missing := {v: t for v, t in topics.items() if t not in cluster.topics()}:
        return (
            f"no topic {', '.join(repr(t) for t in missing.values())} at "
            f"{settings.kafka_bootstrap}: create it (`fraud stack up` creates the stack's "
            f"topics), or name another ({', '.join(missing)})"
        )
    partitions = len(cluster.partitions_for_topic(settings.topic_transactions) or ())
    if partitions != settings.partitions:
        return (
            f"topic {settings.topic_transactions!r} has {partitions} partitions and the worker "
            f"is set for {settings.partitions} (its state table's): set "
            f"FRAUD_STREAM_PARTITIONS={partitions}"
        )
    return None


def tune_gc() -> None:
    """Keep Python's cycle collector from rescanning the libraries on every pass.

    Feast, Faust, pandas and protobuf leave some 300,000 long-lived objects; a full collection
    walks them all (about 200 ms on the 2-core development machine), and at thousands of events
    a second the default thresholds run one every few seconds, stalling scoring meanwhile.
    `gc.freeze()` moves what exists after start-up out of the collector's sight; the larger
    first threshold makes young collections rarer (the worker's garbage is mostly acyclic and
    freed by reference counting anyway).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD_0, 20, 20)
    gc.callbacks.append(_time_collections)


_gc_started = 0.0


def _time_collections(phase: str, info: dict[str, int]) -> None:
    """Observe each collection's pause in `fraud_stream_gc_pause_seconds`."""
    global _gc_started  # noqa: PLW0603 - the start of the collection in progress
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        pause = time.perf_counter() - _gc_started
        GC_PAUSE.labels(str(info["generation"])).observe(pause)
        if pause > LONG_GC_PAUSE_S:
            log.info(
                "long garbage collection generation=%d collected=%d uncollectable=%d ms=%.0f",
                info["generation"], info["collected"], info["uncollectable"], pause * 1000,
            )  # fmt: skip
