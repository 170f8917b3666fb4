"""The champion/challenger gate: compare both on the same newest holdout, promote only if earned.

A challenger is promoted when its PR-AUC is at least the champion's minus `tolerance` (0.01) and
its precision at its own threshold meets `min_precision`. With no champion yet, the second rule
alone decides. The decision and both sets of numbers are written to the registry.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from batch_pipeline.model.errors import GateError
from batch_pipeline.model.evaluate import Metrics, evaluate
from batch_pipeline.registry import Registry, VersionInfo
from predictor.artifact import INPUT_NAME, OUTPUT_NAME, ArtifactError, read_model

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class GateDecision:
    challenger: str
    champion: str | None
    promoted: bool
    reason: str
    challenger_metrics: Metrics
    champion_metrics: Metrics | None


def score_artifact(uri: str, x: Array) -> tuple[Array, float]:
    """Scores of rows x by the artifact at `uri` (file://), and its threshold."""
    parts = urlsplit(uri)
    if parts.scheme not in ("file", ""):
        raise GateError(f"only file:// artifacts can be evaluated here, got {uri}")
    try:
        data, metadata = read_model(Path(parts.path))
    except ArtifactError as exc:
        raise GateError(str(exc)) from exc
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    scores = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    return np.asarray(scores, dtype=np.float32), metadata.threshold


def run_gate(
    registry: Registry,
    challenger: VersionInfo,
    x_holdout: Array,
    y_holdout: Array,
    alert_budget: float,
    min_precision: float,
    tolerance: float = 0.01,
) -> GateDecision:
    champion = registry.champion()
    scores, threshold = score_artifact(challenger.uri, x_holdout)
    ours = evaluate(scores, y_holdout, threshold, alert_budget)
    theirs: Metrics | None = None
    if champion is not None and champion.name != challenger.name:
        champ_scores, champ_threshold = score_artifact(champion.uri, x_holdout)
        theirs = evaluate(champ_scores, y_holdout, champ_threshold, alert_budget)

    precise = ours.precision_at_threshold >= min_precision
    if theirs is None:
        promoted = precise
        reason = "no champion yet; " + (
            f"precision {ours.precision_at_threshold:.3f} >= {min_precision}"
            if precise
            else f"precision {ours.precision_at_threshold:.3f} < minimum {min_precision}"
        )
    else:
        good = ours.pr_auc >= theirs.pr_auc - tolerance
        promoted = good and precise
        reason = (
            f"PR-AUC {ours.pr_auc:.4f} vs champion {theirs.pr_auc:.4f} "
            f"({'within' if good else 'below'} tolerance {tolerance}); precision "
            f"{ours.precision_at_threshold:.3f} ({'meets' if precise else 'below'} "
            f"minimum {min_precision})"
        )
    record = {
        "gate_decision": "promoted" if promoted else "rejected",
        "gate_reason": reason,
        "gate_holdout_rows": int(len(y_holdout)),
        "gate_challenger_pr_auc": ours.pr_auc,
        "gate_challenger_precision": ours.precision_at_threshold,
        "gate_champion_version": champion.name if champion else "",
        "gate_champion_pr_auc": theirs.pr_auc if theirs else -1.0,
        "gate_champion_precision": theirs.precision_at_threshold if theirs else -1.0,
        "gate_numbers": json.dumps(
            {"challenger": ours.as_dict(), "champion": theirs.as_dict() if theirs else None}
        ),
    }
    registry.record(challenger.name, **record)
    if promoted:
        registry.promote(challenger.name, reason)
    log.info("gate version=%s promoted=%s reason=%s", challenger.name, promoted, reason)
    return GateDecision(
        challenger.name, champion.name if champion else None, promoted, reason, ours, theirs
    )
