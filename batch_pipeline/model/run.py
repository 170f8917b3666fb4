"""One training run: load, split, train, choose the threshold, evaluate, export, register, gate."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from batch_pipeline.model.dataset import check_values, choose_features, load_table, split
from batch_pipeline.model.evaluate import baseline_scores, choose_threshold, evaluate, plot
from batch_pipeline.model.export import export
from batch_pipeline.model.gate import GateDecision, run_gate
from batch_pipeline.model.train import TrainConfig, predict, train_mlp
from batch_pipeline.registry import MODEL_NAME, Registry
from feature_repo.spec import FEATURE_NAMES, spec_hash
from predictor.artifact import ModelMetadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    label: str = "is_fraud"
    time: str | None = "event_timestamp"
    alert_budget: float = 0.005
    target_precision: float | None = None
    min_precision: float = 0.3
    config: TrainConfig = TrainConfig()
    pipeline_run_id: str = ""
    progress: bool = True


@dataclass(frozen=True)
class RunResult:
    report: dict[str, Any]
    model_path: Path
    version: str
    gate: GateDecision | None


def training_run(
    data: Path, out: Path, options: RunOptions, registry: Registry | None = None
) -> RunResult:
    """Train and judge a model on `data`; with a registry, register it and apply the gate."""
    started = time.monotonic()
    frame = load_table(data)
    features = choose_features(frame, options.label, options.time)
    x, y = check_values(frame, features, options.label)
    parts = split(frame, y, options.time, options.config.seed)
    patterns = (
        frame["fraud_pattern"].astype(str).to_numpy() if "fraud_pattern" in frame.columns else None
    )
    result = train_mlp(
        x[parts.train], y[parts.train], x[parts.validation], y[parts.validation],
        options.config, options.progress,
    )  # fmt: skip
    val_scores = predict(result.net, x[parts.validation])
    threshold = choose_threshold(
        val_scores, y[parts.validation], options.alert_budget, options.target_precision
    )
    test_scores = predict(result.net, x[parts.test])
    test_patterns = patterns[parts.test] if patterns is not None else None
    mlp = evaluate(test_scores, y[parts.test], threshold, options.alert_budget, test_patterns)
    base_val, base_test = baseline_scores(
        x[parts.train], y[parts.train], [x[parts.validation], x[parts.test]], options.config.seed
    )
    base_threshold = choose_threshold(
        base_val, y[parts.validation], options.alert_budget, options.target_precision
    )
    baseline = evaluate(
        base_test, y[parts.test], base_threshold, options.alert_budget, test_patterns
    )

    version = registry.next_version() if registry is not None else "local"
    ours = features == list(FEATURE_NAMES)
    legit = x[parts.train][y[parts.train] == 0]
    metadata = ModelMetadata(
        model_name=registry.model_name if registry is not None else MODEL_NAME,
        model_version=version,
        feature_names=tuple(features),
        feature_spec_hash=spec_hash() if ours else "not-the-project-spec",
        threshold=threshold,
        reference_values=tuple(float(v) for v in np.median(legit, axis=0)),
        training_window={k: f"{a} .. {b}" for k, (a, b) in parts.windows.items()},
        metrics={"test": mlp.as_dict(), "baseline_test": baseline.as_dict()},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    out.mkdir(parents=True, exist_ok=True)
    model_path = (out / "model.onnx").resolve()
    max_diff = export(result.net, metadata, x[parts.test][:2048], model_path)
    plots = plot(
        out, {"MLP": (test_scores, y[parts.test]), "logistic baseline": (base_test, y[parts.test])},
        threshold,
    )  # fmt: skip
    report: dict[str, Any] = {
        "version": version,
        "data": str(data),
        "features": features,
        "feature_spec_hash": metadata.feature_spec_hash,
        "rows": {k: int(len(getattr(parts, k))) for k in ("train", "validation", "test")},
        "positives": {k: int(y[getattr(parts, k)].sum()) for k in ("train", "validation", "test")},
        "windows": parts.windows,
        "training": {
            "best_epoch": result.best_epoch,
            "best_val_pr_auc": result.best_val_pr_auc,
            "pos_weight": result.pos_weight,
            "seconds": round(result.seconds, 1),
            "history": result.history,
        },
        "threshold_rule": (
            f"precision >= {options.target_precision} on validation"
            if options.target_precision
            else f"alert budget {options.alert_budget:.2%} on validation"
        ),
        "mlp": mlp.as_dict(),
        "baseline": baseline.as_dict(),
        "onnx_max_abs_diff": max_diff,
        "plots": [str(p) for p in plots],
        "seconds": round(time.monotonic() - started, 1),
    }
    gate = None
    if registry is not None:
        info = registry.register(
            version, model_path.as_uri(), _registry_metadata(report, options), "fraud MLP"
        )
        gate = run_gate(
            registry, info, x[parts.test], y[parts.test], options.alert_budget,
            options.min_precision,
        )  # fmt: skip
        report["gate"] = {"promoted": gate.promoted, "reason": gate.reason}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return RunResult(report, model_path, version, gate)


def _registry_metadata(report: dict[str, Any], options: RunOptions) -> dict[str, Any]:
    mlp, base = report["mlp"], report["baseline"]
    return {
        "pr_auc": mlp["pr_auc"],
        "roc_auc": mlp["roc_auc"],
        "threshold": mlp["threshold"],
        "precision_at_threshold": mlp["precision_at_threshold"],
        "recall_at_threshold": mlp["recall_at_threshold"],
        "recall_at_budget": mlp["recall_at_budget"],
        "alert_budget": options.alert_budget,
        "baseline_pr_auc": base["pr_auc"],
        "baseline_recall_at_budget": base["recall_at_budget"],
        "rows_train": report["rows"]["train"],
        "rows_validation": report["rows"]["validation"],
        "rows_test": report["rows"]["test"],
        "training_window": json.dumps(report["windows"]),
        "feature_spec_hash": report["feature_spec_hash"],
        "feature_names": json.dumps(report["features"]),
        "pipeline_run_id": options.pipeline_run_id,
        "data": report["data"],
    }
