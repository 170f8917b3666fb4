"""`fraud features …`: register the Feast repository and load the online store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from feast import FeatureStore

app = typer.Typer(help="The Feast repository: apply definitions, materialize to Redis.")
console = Console()
DATA = Path("feature_repo/data")


@app.callback()
def _group() -> None:
    """The Feast repository: apply definitions, materialize to Redis."""


def _store(data: Path, project: str | None) -> FeatureStore:
    from deploy.stack.settings import StackSettings
    from feature_repo.store import PROJECT, open_store

    if not (data / "user_profile").exists():
        console.print(f"[red]{data} has no prepared features[/red]: run `fraud data prepare`")
        raise typer.Exit(1)
    settings = StackSettings()
    return open_store(data, settings.feast_redis, project=project or PROJECT)


Data = Annotated[Path, typer.Option(help="Output of `fraud data prepare`.")]
Project = Annotated[
    str | None, typer.Option(help="The Feast project (default: the repository's, fraud_scorer).")
]


@app.command("apply")
def apply_command(data: Data = DATA, project: Project = None) -> None:
    """Register entities, sources, feature views and the model's feature service."""
    from feature_repo.store import apply_definitions

    store = _store(data, project)
    defs = apply_definitions(store, data)
    console.print(
        f"applied {len(defs.objects())} objects to project {store.project} "
        f"(registry {data / 'registry.db'})"
    )


def materialize_window(newest: datetime, now: datetime, days: int) -> tuple[datetime, datetime]:
    """The window to load: `days` back from now, and always back to the newest snapshot.

    A window of days back from now alone loads nothing once the data is older than that, and
    every profile read then misses.
    """
    until = max(newest + timedelta(seconds=1), now)
    return min(until - timedelta(days=days), newest - timedelta(seconds=1)), until


@app.command("materialize")
def materialize_command(
    data: Data = DATA,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            help="How far back from now to load; always back to the newest "
            "profile snapshot, however old.",
        ),
    ] = 3,
    project: Project = None,
) -> None:
    """Load the latest profiles and activity into Redis, the online store."""
    import pandas as pd

    from feature_repo.store import apply_definitions

    store = _store(data, project)
    apply_definitions(store, data)
    profiles = pd.read_parquet(data / "user_profile", columns=["user_id", "event_timestamp"])
    if profiles.empty:
        console.print(
            f"[red]{data / 'user_profile'} holds no profiles[/red]: "
            "run `fraud data prepare` on a history with transactions"
        )
        raise typer.Exit(1)
    newest = profiles["event_timestamp"].max().to_pydatetime()
    start, until = materialize_window(newest, datetime.now(UTC), days)
    with console.status("materializing to Redis…"):
        store.materialize(start, until)
    users = profiles.loc[profiles["event_timestamp"] >= start, "user_id"].nunique()
    console.print(
        f"materialized {start:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC into Redis "
        f"(project {store.project}): profiles of {users:,} users, the newest from "
        f"{newest:%Y-%m-%d %H:%M} UTC"
    )
