"""Training, the split rule, export parity and every bad input, on small tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from batch_pipeline.model import export as export_module
from batch_pipeline.model.dataset import check_values, choose_features, split
from batch_pipeline.model.errors import DataError, ExportError
from batch_pipeline.model.evaluate import choose_threshold
from batch_pipeline.model.run import RunOptions, training_run
from batch_pipeline.model.train import TrainConfig, predict, train_mlp
from feature_repo.spec import FEATURE_NAMES, FeatureSpecMismatch
from predictor.artifact import ArtifactError, read_model
from tests.model_tables import spec_table

FAST = TrainConfig(epochs=4, batch_size=128, seed=3)


def _xy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return check_values(frame, list(FEATURE_NAMES), "is_fraud")


def test_same_seed_gives_the_same_model() -> None:
    x, y = _xy(spec_table())
    a = train_mlp(x[:4000], y[:4000], x[4000:], y[4000:], FAST, progress=False)
    b = train_mlp(x[:4000], y[:4000], x[4000:], y[4000:], FAST, progress=False)
    for key, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[key]), key
    assert a.best_val_pr_auc > 0.1  # it learned the rule (base rate 0.03)


def test_time_split_trains_on_the_oldest_and_tests_on_the_newest() -> None:
    frame = spec_table().sample(frac=1.0, random_state=1).reset_index(drop=True)
    _, y = _xy(frame)
    parts = split(frame, y, "event_timestamp", seed=0)
    times = frame["event_timestamp"]
    assert times.iloc[parts.train].max() <= times.iloc[parts.validation].min()
    assert times.iloc[parts.validation].max() <= times.iloc[parts.test].min()
    assert len(parts.train) + len(parts.validation) + len(parts.test) == len(frame)
    assert set(parts.windows) == {"train", "validation", "test"}


def test_without_time_the_split_is_stratified() -> None:
    frame = spec_table()
    _, y = _xy(frame)
    parts = split(frame, y, None, seed=0)
    rates = [y[p].mean() for p in (parts.train, parts.validation, parts.test)]
    assert max(rates) - min(rates) < 0.005


def test_threshold_rule_on_validation_scores() -> None:
    val = np.linspace(0, 1, 1001, dtype=np.float32)
    labels = (val > 0.99).astype(np.float32)
    assert choose_threshold(val, labels, alert_budget=0.01) == pytest.approx(0.99, abs=1e-3)
    assert choose_threshold(val, labels, 0.2, target_precision=1.0) == pytest.approx(0.991, 1e-3)


def test_training_run_writes_model_report_and_plots(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    spec_table(8000).to_parquet(path)
    result = training_run(path, tmp_path / "out", RunOptions(config=FAST, progress=False))
    report = result.report
    assert report["onnx_max_abs_diff"] <= 1e-5
    assert report["mlp"]["pr_auc"] > report["mlp"]["positives"] / report["mlp"]["rows"]
    assert {"mlp", "baseline"} <= set(report) and "recall_by_pattern" in report["mlp"]
    for plot in report["plots"]:
        assert Path(plot).stat().st_size > 10_000
    data, metadata = read_model(result.model_path)
    assert metadata.feature_names == FEATURE_NAMES
    assert metadata.threshold == report["mlp"]["threshold"]
    assert len(metadata.reference_values) == len(FEATURE_NAMES)


def test_export_refuses_an_onnx_graph_that_disagrees_with_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = _xy(spec_table())
    trained = train_mlp(x[:4000], y[:4000], x[4000:], y[4000:], FAST, progress=False)
    from predictor.artifact import ModelMetadata

    meta = ModelMetadata("m", "1", FEATURE_NAMES, "h", 0.5)
    monkeypatch.setattr(export_module, "predict", lambda net, rows: predict(net, rows) + 1e-3)
    with pytest.raises(ExportError, match="disagree"):
        export_module.export(trained.net, meta, x[:100], tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["is_fraud"]), "label column 'is_fraud' not found"),
        (lambda f: f.assign(amount="x"), "features must be numeric"),
        (lambda f: f.assign(amount=f["amount"].where(f.index != 5)), "NaN or infinite"),
        (lambda f: f.assign(log_amount=np.inf), "NaN or infinite values in \\['log_amount'\\]"),
        (lambda f: f.assign(is_fraud=0), "one class only"),
        (lambda f: f.head(50), "too few"),
        (lambda f: f.drop(columns=["hour_sin"]), "lacks \\['hour_sin'\\]"),
        (lambda f: f.assign(is_fraud=f["is_fraud"] * 3), "must be 0/1"),
    ],
)
def test_bad_training_tables_are_refused_with_what_to_fix(
    mutate: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    frame = mutate(spec_table())
    with pytest.raises(DataError, match=message):
        features = choose_features(frame, "is_fraud", "event_timestamp")
        check_values(frame, features, "is_fraud")


def test_any_numeric_table_can_be_trained(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    frame["label"] = (frame["a"] + rng.normal(scale=0.3, size=3000) > 1.8).astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = training_run(
        tmp_path / "t.csv",
        tmp_path / "out",
        RunOptions(label="label", time=None, config=FAST, progress=False),
    )
    assert result.report["features"] == ["a", "b"]
    # Not the project's spec: serving would refuse it.
    with pytest.raises(FeatureSpecMismatch):
        read_model(result.model_path)


def test_corrupt_artifact_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ArtifactError, match="not a valid ONNX model"):
        read_model(bad)
    with pytest.raises(ArtifactError, match="cannot read"):
        read_model(tmp_path / "missing.onnx")
