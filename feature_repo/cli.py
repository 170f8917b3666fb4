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


def _store(data: Path) -> FeatureStore:
    from deploy.stack.settings import StackSettings
    from feature_repo.store import open_store

    if not (data / "user_profile").exists():
        console.print(f"[red]{data} has no prepared features[/red]: run `fraud data prepare`")
        raise typer.Exit(1)
    settings = StackSettings()
    return open_store(data, settings.feast_redis)


@app.command("apply")
def apply_command(
    data: Annotated[Path, typer.Option(help="Output of `fraud data prepare`.")] = DATA,
) -> None:
    """Register entities, sources, feature views and the model's feature service."""
    from feature_repo.store import apply_definitions

    store = _store(data)
    defs = apply_definitions(store, data)
    console.print(
        f"applied {len(defs.objects())} objects to project {store.project} "
        f"(registry {data / 'registry.db'})"
    )


@app.command("materialize")
def materialize_command(
    data: Annotated[Path, typer.Option(help="Output of `fraud data prepare`.")] = DATA,
    days: Annotated[int, typer.Option(min=1, help="How far back to load.")] = 3,
) -> None:
    """Load the latest profiles and activity into Redis, the online store."""
    import pandas as pd

    from feature_repo.store import apply_definitions

    store = _store(data)
    apply_definitions(store, data)
    end = pd.read_parquet(data / "user_profile", columns=["event_timestamp"])["event_timestamp"]
    until = max(end.max().to_pydatetime() + timedelta(seconds=1), datetime.now(UTC))
    with console.status("materializing to Redis…"):
        store.materialize(until - timedelta(days=days), until)
    console.print(f"materialized {days} day(s) up to {until:%Y-%m-%d %H:%M} UTC into Redis")
