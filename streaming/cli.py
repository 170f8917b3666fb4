"""`fraud produce` and `fraud alerts tail`: transactions into Kafka, alerts out of it, as JSON."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from deploy.stack.settings import StackSettings

console = Console()
err = Console(stderr=True)


def _bootstrap(value: str | None) -> str | None:
    """--bootstrap as host:port[,host:port...], checked before any connection is tried."""
    if value is None:
        return None
    for server in value.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise typer.BadParameter(
                f"{server.strip()!r} is not host:port (a port within 1..65535), e.g. "
                "127.0.0.1:19092; separate several with commas"
            )
    return value


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


BootstrapOption = Annotated[
    str | None,
    typer.Option(
        help="Kafka bootstrap servers (default: the local stack's).", show_default=False,
        callback=_bootstrap,
    ),
]  # fmt: skip
TopicOption = Annotated[
    str | None, typer.Option(help="Topic (default: the local stack's).", show_default=False)
]
STACK_HINT = "is Kafka running? start it with `fraud stack up kafka`"


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} ev/s", style="progress.data.speed")


def _live_start(
    value: str | None, users: int, seed: int, count: int, boost: float, rate: float
) -> datetime:
    """--start, or by default a start from which the live stream's events end now.

    The worker dead-letters an event more than `MAX_AHEAD_OF_ARRIVAL` ahead of its arrival, and a
    live stream runs faster than the clock, so a start from which some event would be sent that
    far ahead of its time (at `rate`) is refused here.
    """
    from batch_pipeline.data.live import most_ahead, start_ending_by
    from feature_repo.spec import MAX_AHEAD_OF_ARRIVAL

    now = datetime.now(UTC)
    if value is None:
        return start_ending_by(users, seed, count, now, boost)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date-time, e.g. 2026-11-01T09:00:00+00:00",
            param_hint="--start",
        ) from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        ahead = most_ahead(users, seed, moment, count, boost, now, rate)
    except (ValueError, OverflowError) as exc:  # e.g. a world past year 9999
        raise typer.BadParameter(
            f"{value!r}: the live world cannot start there ({exc})", param_hint="--start"
        ) from exc
    if ahead is not None and ahead[2] > MAX_AHEAD_OF_ARRIVAL:
        index, when, lead = ahead
        pace = f"from now at {rate:g} events/s" if rate else "now, unpaced"
        raise typer.BadParameter(
            f"of the {count:,} events from {moment.isoformat()}, event {index + 1:,} is dated "
            f"{when.isoformat()}, {lead.total_seconds():,.0f} s after it would be sent "
            f"({pace}); the stream worker dead-letters an event more than "
            f"{MAX_AHEAD_OF_ARRIVAL.total_seconds():.0f} s ahead of its arrival. Leave --start "
            "out (the events then end now), start earlier or send more slowly",
            param_hint="--start",
        )
    return moment


def produce_command(
    data: Annotated[
        Path | None,
        typer.Option(help="A data set folder from `fraud data generate`.", show_default=False),
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Generate events on the fly instead.")
    ] = False,
    count: Annotated[
        int | None,
        typer.Option(min=1, help="Events to send (default: all of --data; 10,000 with --live)."),
    ] = None,
    rate: Annotated[
        float, typer.Option(min=0, callback=_finite, help="Events per second; 0: unpaced.")
    ] = 1000.0,
    users: Annotated[
        int | None,
        typer.Option(
            min=1, help="--live: card holders (as `fraud data generate --users`) [default: 20000]"
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, help="--live: seed of the world (as `fraud data generate --seed`) [default: 1]"
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="--live: ISO date-time of the first event (default: the one from which the "
            "events end now; the world's time runs faster than the clock)."
        ),
    ] = None,
    fraud_boost: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            help="--live: multiplies the fraud rates, e.g. 10 for a demo [default: 1]",
        ),
    ] = None,
    labels_out: Annotated[
        Path | None,
        typer.Option(help="Write transaction_id, is_fraud, fraud_pattern as JSON lines here."),
    ] = None,
    bootstrap: BootstrapOption = None,
    topic: TopicOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Send synthetic card transactions to the transactions topic, as JSON keyed by user_id.

    --data: a generated data set, in arrival order. --live: a world simulated on the fly.
    """
    from aiokafka.errors import KafkaError  # type: ignore[import-untyped, unused-ignore]

    from streaming.produce import (
        DataSetError,
        UnknownTopic,
        events_from_data,
        events_live,
        produce,
    )

    if (data is None) == (not live):
        raise typer.BadParameter(
            "pass exactly one source: --data DIR (a generated data set) or --live",
            param_hint="'--data' / '--live'",
        )
    live_only = {"--users": users, "--seed": seed, "--start": start, "--fraud-boost": fraud_boost}
    if data is not None and (given := [name for name, v in live_only.items() if v is not None]):
        raise typer.BadParameter(
            f"{', '.join(given)} apply to --live only; a data set's events are sent as they are",
            param_hint="--data",
        )
    if labels_out is not None and (labels_out.is_dir() or not labels_out.parent.is_dir()):
        raise typer.BadParameter(
            f"{labels_out} is a folder, or its folder does not exist: name a file to write",
            param_hint="--labels-out",
        )
    settings = StackSettings()
    bootstrap = bootstrap or settings.kafka_bootstrap
    topic = topic or settings.topic_transactions
    if data is not None:
        try:
            events = events_from_data(data, count)
            _check_data(data, count, progress)
        except DataSetError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from exc
    else:
        count, users, seed = count or 10_000, users or 20_000, 1 if seed is None else seed
        boost = 1.0 if fraud_boost is None else fraud_boost
        first = _live_start(start, users, seed, count, boost, rate)
        try:
            events = events_live(users, seed, first, boost, count)
        except ValueError as exc:
            raise typer.BadParameter(
                str(exc), param_hint="'--users' / '--seed' / '--fraud-boost'"
            ) from exc

    columns = (TextColumn("Sending"), BarColumn(), MofNCompleteColumn(), _RateColumn())
    sink = _LazySink(labels_out) if labels_out else None
    try:
        with Progress(*columns, TimeElapsedColumn(), disable=not progress, console=err) as bar:
            task = bar.add_task("send", total=events.total)
            summary = produce(
                sink.pass_through(events) if sink else events,
                bootstrap,
                topic,
                rate,
                lambda n: bar.advance(task, n),
            )
    except KafkaError as exc:
        err.print(f"[red]could not send to {topic} at {bootstrap}: {exc!r}[/red] ({STACK_HINT})")
        raise typer.Exit(1) from exc
    except UnknownTopic as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None
    finally:
        if sink:
            sink.close()
    console.print(
        f"sent {summary.sent:,} to {topic} in {summary.seconds:.2f} s = {summary.rate:,.0f} ev/s"
    )
    if summary.failed:
        err.print(f"[red]{summary.failed:,} not delivered, first error: {summary.first_error}")
        raise typer.Exit(1)


def _check_data(data: Path, count: int | None, progress: bool) -> None:
    """Every event of the data set as the worker will read it: a data set with events the worker
    would dead-letter (a time without its zone, a number for an id, a missing amount...) is
    refused before anything is sent, naming the first few.

    Raises:
        DataSetError: some events would be dead letters, or cannot be written as JSON.
    """
    from streaming.decode import Rejected, decode
    from streaming.produce import DataSetError, encode, events_from_data

    events = events_from_data(data, count)
    bad: list[str] = []
    n_bad = 0
    columns = (TextColumn("Checking"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=not progress, console=err, transient=True) as bar:
        task = bar.add_task("check", total=events.total)
        for i, event in enumerate(events):
            try:
                result = decode(*encode(event), MAX_CHECKED_BYTES)
                reason = result.reason if isinstance(result, Rejected) else None
            except TypeError as exc:  # orjson: a value JSON cannot hold (Decimal, bytes)
                reason = f"cannot be written as JSON: {exc}"
            if reason is not None:
                n_bad += 1
                if len(bad) < 3:
                    bad.append(f"event {i + 1:,} ({event.get('transaction_id')!r}): {reason}")
            if i % 10_000 == 9_999:
                bar.advance(task, 10_000)
    if n_bad:
        raise DataSetError(
            f"{n_bad:,} of the {events.total:,} events in {data} would be dead letters, not "
            f"scored: {'; '.join(bad)}. Fix the data set (`fraud data generate` writes a valid one)"
        )


MAX_CHECKED_BYTES = 1 << 30  # size is the worker's setting (max_event_bytes), not checked here


class _LazySink:
    """The labels file, opened (and so truncated) when the first event is sent, not before."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def pass_through(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        from streaming.produce import with_labels

        for first in events:
            self._file = self.path.open("wb")
            yield from with_labels(itertools.chain([first], events), self._file)
            return

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


alerts_app = typer.Typer(help="Watch the fraud alerts the scorer raises.", no_args_is_help=True)


@alerts_app.callback()
def _alerts() -> None:
    """Watch the fraud alerts the scorer raises."""


@alerts_app.command("tail")
def tail_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each alert's JSON on one line (for jq).")
    ] = False,
    from_beginning: Annotated[
        bool,
        typer.Option("--from-beginning", help="Start at the oldest alert, not after the newest."),
    ] = False,
    max_alerts: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many alerts.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0, callback=_finite, help="Stop after this many seconds without an alert."
        ),
    ] = None,
    bootstrap: BootstrapOption = None,
    topic: TopicOption = None,
) -> None:
    """Print fraud alerts as they arrive, one line each, until --max, --timeout or Ctrl-C."""
    from kafka.errors import KafkaError

    from streaming.tail import InvalidRecord, alert_line, tail

    settings = StackSettings()
    bootstrap = bootstrap or settings.kafka_bootstrap
    topic = topic or settings.topic_alerts
    if logging.getLogger().level > logging.DEBUG:  # not --verbose: this command says what failed
        logging.getLogger("kafka").setLevel(logging.CRITICAL)

    def show(alert: dict[str, Any]) -> None:
        if as_json:
            typer.echo(orjson.dumps(alert).decode())
        else:
            console.print(alert_line(alert), soft_wrap=True)

    def warn(record: InvalidRecord) -> None:
        err.print(
            f"[yellow]warning: skipped record partition={record.partition} "
            f"offset={record.offset}: {escape(record.reason)}[/yellow]",
            highlight=False,
        )

    try:
        summary = tail(
            bootstrap,
            topic,
            from_beginning=from_beginning,
            max_alerts=max_alerts,
            idle_timeout_s=timeout,
            on_alert=show,
            on_invalid=warn,
        )
    except KeyboardInterrupt:
        return
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    except KafkaError as exc:
        err.print(f"[red]could not read {topic} at {bootstrap}: {exc!r}[/red] ({STACK_HINT})")
        raise typer.Exit(1) from exc
    if summary.stopped == "idle" and not as_json:
        err.print(f"no alert for {timeout:g} s; {summary.alerts:,} shown", style="dim")
