"""Registering versions and the champion gate against the real Kubeflow Model Registry server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batch_pipeline.model.run import RunOptions, training_run
from batch_pipeline.model.train import TrainConfig
from batch_pipeline.registry import Registry
from deploy.cli import app
from tests.model_tables import spec_table

pytestmark = [pytest.mark.registry, pytest.mark.slow]
OPTIONS = RunOptions(config=TrainConfig(epochs=8, batch_size=128, seed=3), min_precision=0.2,
                     progress=False)  # fmt: skip


@pytest.fixture
def registry(registry_url: str) -> Registry:
    return Registry(registry_url, model_name=f"fraud-test-{uuid.uuid4().hex[:8]}")


def _table(tmp_path: Path, name: str) -> Path:
    frame = spec_table(8000, seed=1)
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path)
    return path


def test_gate_promotes_a_good_model_and_keeps_the_champion_against_a_worse(
    registry: Registry, tmp_path: Path
) -> None:
    first = training_run(_table(tmp_path, "good"), tmp_path / "v1", OPTIONS, registry)
    assert first.version == "1" and first.gate is not None and first.gate.promoted
    assert registry.champion() is not None and registry.champion().name == "1"  # type: ignore[union-attr]

    # Same fresh data, but barely trained: a worse model on the very same holdout.
    crippled = RunOptions(
        **{**OPTIONS.__dict__, "config": TrainConfig(epochs=1, learning_rate=1e-6, seed=3)}
    )
    worse = training_run(_table(tmp_path, "good"), tmp_path / "v2", crippled, registry)
    assert worse.gate is not None and not worse.gate.promoted
    assert registry.champion().name == "1"  # type: ignore[union-attr]
    recorded = registry.get("2").metadata
    assert recorded["gate_decision"] == "rejected"
    assert recorded["gate_champion_version"] == "1"
    assert recorded["gate_challenger_pr_auc"] < recorded["gate_champion_pr_auc"] - 0.01
    numbers = json.loads(recorded["gate_numbers"])
    assert numbers["champion"]["rows"] == numbers["challenger"]["rows"]  # same holdout

    again = training_run(_table(tmp_path, "good"), tmp_path / "v3", OPTIONS, registry)
    assert again.gate is not None and again.gate.promoted
    stages = {v.name: v.stage for v in registry.versions()}
    assert stages == {"1": "retired", "2": "challenger", "3": "champion"}


def test_registered_version_carries_metrics_lineage_and_artifact(
    registry: Registry, tmp_path: Path
) -> None:
    options = RunOptions(**{**OPTIONS.__dict__, "pipeline_run_id": "run-42"})
    result = training_run(_table(tmp_path, "good"), tmp_path / "v1", options, registry)
    info = registry.get(result.version)
    assert info.uri == result.model_path.as_uri()
    md = info.metadata
    assert md["pipeline_run_id"] == "run-42"
    assert md["rows_train"] + md["rows_validation"] + md["rows_test"] == 8000
    assert md["pr_auc"] == pytest.approx(result.report["mlp"]["pr_auc"])
    assert set(json.loads(md["training_window"])) == {"train", "validation", "test"}
    assert len(md["feature_spec_hash"]) == 16


def test_model_commands(registry: Registry, tmp_path: Path) -> None:
    runner = CliRunner()
    name = ["--model-name", registry.model_name]
    assert runner.invoke(app, ["model", "champion", *name]).exit_code == 1
    trained = runner.invoke(
        app,
        ["train", "--data", str(_table(tmp_path, "good")), "--out", str(tmp_path / "m"),
         "--epochs", "8", "--batch-size", "128", "--seed", "3",
         "--register", "--min-precision", "0.2", *name],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "registered version 1" in trained.output
    listed = runner.invoke(app, ["model", "list", *name])
    assert listed.exit_code == 0 and "champion" in listed.output, listed.output
    shown = runner.invoke(app, ["model", "show", "1", *name])
    assert shown.exit_code == 0 and '"pr_auc"' in shown.output
    assert runner.invoke(app, ["model", "show", "9", *name]).exit_code == 1
    assert runner.invoke(app, ["model", "promote", "1", *name]).exit_code == 0
    champion = runner.invoke(app, ["model", "champion", *name])
    assert champion.exit_code == 0 and champion.output.startswith("1 ")


def test_train_command_exits_non_zero_on_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    spec_table().drop(columns=["is_fraud"]).to_parquet(path)
    result = CliRunner().invoke(app, ["train", "--data", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "label column 'is_fraud' not found" in result.output
