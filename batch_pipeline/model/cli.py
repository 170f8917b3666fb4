"""`fraud train` and `fraud model …`: train, register, gate, and manage the champion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from batch_pipeline.model.errors import ModelError
from batch_pipeline.registry import Registry

console = Console()
model_app = typer.Typer(help="The Kubeflow Model Registry: versions and the champion.")


def _registry(model_name: str) -> Registry:
    from deploy.stack.settings import StackSettings

    return Registry(StackSettings().registry_url, model_name=model_name)


ModelName = Annotated[str, typer.Option(help="Registered model name.")]


def train_command(
    data: Annotated[Path, typer.Option(help="Labelled table: parquet (file or folder) or CSV.")],
    label: Annotated[str, typer.Option(help="The 0/1 label column.")] = "is_fraud",
    time: Annotated[
        str | None, typer.Option(help="Event-time column: split oldest/next/newest by it.")
    ] = "event_timestamp",
    out: Annotated[Path, typer.Option(help="Folder for model.onnx, report.json, plots.")] = Path(
        "out/model"
    ),
    alert_budget: Annotated[
        float, typer.Option(min=0.0001, max=0.5, help="Share of transactions reviewable.")
    ] = 0.005,
    target_precision: Annotated[
        float | None, typer.Option(help="Choose the threshold for this precision instead.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="At most; early stopping ends sooner.")] = 40,
    batch_size: Annotated[int, typer.Option(min=16)] = 2048,
    seed: Annotated[int, typer.Option(help="Same seed, same data: same model.")] = 7,
    register: Annotated[bool, typer.Option(help="Register the version and run the gate.")] = False,
    min_precision: Annotated[float, typer.Option(help="Gate: precision at threshold.")] = 0.3,
    model_name: ModelName = "fraud-detector",
    pipeline_run_id: Annotated[str, typer.Option(help="Recorded in the registry.")] = "",
) -> None:
    """Train the fraud MLP on any labelled numeric table; judge it against a baseline."""
    from batch_pipeline.model.run import RunOptions, training_run
    from batch_pipeline.model.train import TrainConfig

    options = RunOptions(
        label=label,
        time=time or None,
        alert_budget=alert_budget,
        target_precision=target_precision,
        min_precision=min_precision,
        config=TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed),
        pipeline_run_id=pipeline_run_id,
    )
    try:
        result = training_run(data, out, options, _registry(model_name) if register else None)
    except ModelError as exc:
        console.print(f"[red]cannot train:[/red] {exc}")
        raise typer.Exit(1) from exc
    report = result.report
    table = Table(title=f"Test window ({report['rows']['test']:,} rows, newest)")
    for column in ("", "PR-AUC", "ROC-AUC", "precision@thr", "recall@thr", "recall@budget"):
        table.add_column(column, justify="right")
    for name in ("mlp", "baseline"):
        m = report[name]
        table.add_row(
            name, f"{m['pr_auc']:.4f}", f"{m['roc_auc']:.4f}", f"{m['precision_at_threshold']:.3f}",
            f"{m['recall_at_threshold']:.3f}", f"{m['recall_at_budget']:.3f}",
        )  # fmt: skip
    console.print(table)
    training = report["training"]
    console.print(
        f"trained in {training['seconds']} s (best epoch {training['best_epoch']}),"
        f" ONNX parity {report['onnx_max_abs_diff']:.1e}; written to {out}/"
    )
    if result.gate is not None:
        promoted = result.gate.promoted
        verdict = "[green]promoted[/green]" if promoted else "[yellow]not promoted[/yellow]"
        console.print(f"registered version {result.version}: {verdict} — {result.gate.reason}")


@model_app.command("list")
def list_command(model_name: ModelName = "fraud-detector") -> None:
    """Every version with its stage and headline metrics."""
    table = Table("version", "stage", "PR-AUC", "recall@budget", "gate", "uri")
    for v in _registry(model_name).versions():
        md = v.metadata
        table.add_row(
            v.name, v.stage, f"{md.get('pr_auc', float('nan')):.4f}",
            f"{md.get('recall_at_budget', float('nan')):.3f}", str(md.get("gate_decision", "")),
            v.uri,
        )  # fmt: skip
    console.print(table)


@model_app.command("show")
def show_command(version: str, model_name: ModelName = "fraud-detector") -> None:
    """All metadata of one version."""
    from batch_pipeline.registry import RegistryError

    try:
        info = _registry(model_name).get(version)
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print_json(json.dumps({"version": info.name, "uri": info.uri, **info.metadata}))


@model_app.command("promote")
def promote_command(
    version: str,
    reason: Annotated[str, typer.Option(help="Recorded with the promotion.")] = "promoted by hand",
    model_name: ModelName = "fraud-detector",
) -> None:
    """Make VERSION the champion (the predictor picks it up)."""
    from batch_pipeline.registry import RegistryError

    try:
        info = _registry(model_name).promote(version, reason)
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"version {info.name} is the champion")


@model_app.command("champion")
def champion_command(model_name: ModelName = "fraud-detector") -> None:
    """The current champion version, or exit 1 if there is none."""
    champion = _registry(model_name).champion()
    if champion is None:
        console.print("no champion yet: train with --register")
        raise typer.Exit(1)
    console.print(f"{champion.name}  {champion.uri}")
