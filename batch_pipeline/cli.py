"""`fraud data …`: generate transactions, prepare point-in-time features, build training sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from batch_pipeline.data.generate import GenerationSummary

HELP = "Transactions to features: generate, prepare with Spark, build the training set."
app = typer.Typer(help=HELP, no_args_is_help=True)
console = Console()

RAW_DIR = Path("out/raw")
# The Feast repository reads its batch sources from here (feature_repo/feature_store.yaml).
PREPARED_DIR = Path("feature_repo/data")


@app.callback()
def _group() -> None:
    """Transactions to features: generate, prepare with Spark, build the training set."""


def summary_table(summary: GenerationSummary) -> Table:
    """The counts of a generated data set, and its fraud rate per pattern, as a table."""
    table = Table(title="Generated data set")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("share of transactions", justify="right")
    table.add_row("users", f"{summary.users:,}", "")
    table.add_row("merchants", f"{summary.merchants:,}", "")
    table.add_row("days", f"{summary.days:,}", "")
    table.add_row("transactions", f"{summary.transactions:,}", "100%")
    table.add_row(
        "[bold]fraud[/bold]", f"{summary.fraud_transactions:,}", f"{summary.fraud_rate:.3%}"
    )
    for stats in summary.patterns:
        table.add_row(f"  {stats.pattern}", f"{stats.transactions:,}", f"{stats.rate:.3%}")
    n = max(summary.transactions, 1)
    table.add_row(
        "late (within lateness)", f"{summary.late_events:,}", f"{summary.late_events / n:.3%}"
    )
    table.add_row(
        "too late (rejected)", f"{summary.too_late_events:,}", f"{summary.too_late_events / n:.3%}"
    )
    return table


@app.command("generate")
def generate_command(
    users: Annotated[int, typer.Option(min=1, help="Number of card holders.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Days of simulated time.")] = 60,
    seed: Annotated[int, typer.Option(help="Same seed and arguments: same files.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for the parquet files.")] = RAW_DIR,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day (UTC).")
    ] = datetime(2026, 9, 1),  # noqa: B008 - typer reads defaults, it does not call them
    drift_from: Annotated[
        int | None,
        typer.Option(help="Day (0-based) from which fraud and spending drift.", show_default=False),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write users, merchants, transactions and labels parquet files, then print the counts."""
    from batch_pipeline.data.generate import generate

    if drift_from is not None and not 0 <= drift_from < days:
        raise typer.BadParameter(
            f"must be a day of the simulated period, 0 to {days - 1} (--days - 1), "
            f"got {drift_from}",
            param_hint="--drift-from",
        )
    summary = generate(users, days, seed, out, start.date(), drift_from, progress)
    console.print(summary_table(summary))
    console.print(f"written to {out}/ (users, merchants, transactions, labels .parquet)")


@app.command("prepare")
def prepare_command(
    raw: Annotated[Path, typer.Option(help="Output of `fraud data generate`.")] = RAW_DIR,
    out: Annotated[Path, typer.Option(help="Where the Feast batch sources go.")] = PREPARED_DIR,
    master: Annotated[str, typer.Option(help="Spark master URL.")] = "local[*]",
) -> None:
    """Compute point-in-time activity features and daily profiles with Spark; reject bad rows."""
    from batch_pipeline.data.prepare import PrepareError, prepare
    from batch_pipeline.spark import spark_session

    if not (raw / "transactions.parquet").exists():
        console.print(f"[red]{raw}/transactions.parquet not found[/red]: run `fraud data generate`")
        raise typer.Exit(1)
    spark = spark_session(master, "fraud-prepare")
    try:
        with console.status(f"Spark ({master}) is preparing features from {raw}…"):
            summary = prepare(spark, raw, out)
    except PrepareError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        spark.stop()
    table = Table(title=f"Prepared in {summary.seconds:.0f} s")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("input transactions", f"{summary.input_rows:,}")
    table.add_row("accepted (transaction_features)", f"{summary.accepted:,}")
    table.add_row("profile snapshots (user_profile)", f"{summary.profile_rows:,}")
    table.add_row("labels", f"{summary.label_rows:,}")
    for reason, count in sorted(summary.rejected.items()):
        table.add_row(f"[yellow]rejected[/yellow]: {reason}", f"{count:,}")
    console.print(table)
    console.print(f"written to {out}/ (and {out}/summary.json)")


@app.command("training-set")
def training_set_command(
    prepared: Annotated[Path, typer.Option(help="Output of `fraud data prepare`.")] = PREPARED_DIR,
    out: Annotated[Path, typer.Option(help="Parquet file to write.")] = Path(
        "out/training_set.parquet"
    ),
    known_at: Annotated[
        datetime | None,
        typer.Option(help="Count only fraud labels known by this UTC time.", show_default=False),
    ] = None,
) -> None:
    """Join transactions point-in-time with profiles through Feast, add derived features, labels."""
    from datetime import UTC

    from batch_pipeline.data.training_set import build_training_set
    from deploy.stack.settings import StackSettings
    from feature_repo.store import apply_definitions, open_store

    if not (prepared / "transaction_features").exists():
        console.print(f"[red]{prepared} has no prepared features[/red]: run `fraud data prepare`")
        raise typer.Exit(1)
    settings = StackSettings()
    store = open_store(prepared, settings.feast_redis)
    apply_definitions(store, prepared)
    cutoff = known_at.replace(tzinfo=UTC) if known_at is not None else None
    with console.status("Feast point-in-time join…"):
        frame = build_training_set(store, prepared, cutoff)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    fraud = int(frame["is_fraud"].sum()) if "is_fraud" in frame else 0
    console.print(
        f"{len(frame):,} rows, {fraud:,} labelled fraud ({fraud / max(len(frame), 1):.3%}), "
        f"profile found for {frame['has_profile'].mean():.1%}: written to {out}"
    )
