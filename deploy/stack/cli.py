"""`fraud stack up | down | status`."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deploy.stack.errors import StackError
from deploy.stack.service import Service
from deploy.stack.settings import StackSettings
from deploy.stack.stack import NAMES, Stack

app = typer.Typer(
    help="Start, stop and inspect the local stack of real services.", no_args_is_help=True
)
console = Console()

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Services to act on (default: all): {', '.join(NAMES)}.", show_default=False
    ),
]


def _stack() -> Stack:
    return Stack(StackSettings())


def _selected(names: list[str] | None) -> list[Service]:
    try:
        return _stack().select(names)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def up(services: ServiceNames = None) -> None:
    """Start the services (already running ones are left alone) and wait until each is healthy."""
    for service in _selected(services):
        started = time.monotonic()
        with console.status(f"{service.name}: starting…"):
            try:
                outcome = service.up()
            except StackError as exc:
                console.print(f"[red]✗ {exc}[/red]")
                raise typer.Exit(1) from exc
        console.print(
            f"[green]✓[/green] {service.name:<11} {outcome:<17} {service.address:<16} "
            f"{time.monotonic() - started:5.1f}s"
        )


@app.command()
def down(services: ServiceNames = None) -> None:
    """Stop the services that `up` started, by the process id it recorded."""
    for service in reversed(_selected(services)):
        stopped = service.down()
        console.print(f"{service.name:<11} {'stopped' if stopped else 'was not running'}")


@app.command()
def status() -> None:
    """One line per service: process id, health and address. Exits 1 if any is not healthy."""
    table = Table("service", "pid", "health", "address", "detail")
    rows = _stack().status()
    for row in rows:
        health = "[green]healthy[/green]" if row.healthy else "[red]down[/red]"
        table.add_row(row.name, str(row.pid or "-"), health, row.address, row.detail)
    console.print(table)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)
