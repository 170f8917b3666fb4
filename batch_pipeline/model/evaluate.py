"""Honest evaluation: threshold from validation, metrics on the newest window, a baseline beside.

The report holds PR-AUC, ROC-AUC, precision and recall at the chosen threshold, recall at the
alert budget (the share of transactions a fraud team can review), and recall per fraud pattern
when the data has one; plots go to files next to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Metrics:
    pr_auc: float
    roc_auc: float
    threshold: float
    precision_at_threshold: float
    recall_at_threshold: float
    alert_rate_at_threshold: float
    alert_budget: float
    recall_at_budget: float
    precision_at_budget: float
    rows: int
    positives: int
    recall_by_pattern: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(
    scores: Array, labels: Array, alert_budget: float, target_precision: float | None = None
) -> float:
    """On validation data: the lowest threshold reaching the target precision, if one is given
    and reachable; otherwise the score above which `alert_budget` of the rows fall."""
    if target_precision is not None:
        precision, _, thresholds = precision_recall_curve(labels, scores)
        reaching = np.nonzero(precision[:-1] >= target_precision)[0]
        if len(reaching):
            return float(thresholds[reaching[0]])
    return float(np.quantile(scores, 1.0 - alert_budget))


def evaluate(
    scores: Array,
    labels: Array,
    threshold: float,
    alert_budget: float,
    patterns: npt.NDArray[np.object_] | None = None,
) -> Metrics:
    flagged = scores >= threshold
    positives = int(labels.sum())
    true_pos = int((flagged & (labels == 1)).sum())
    cutoff = np.quantile(scores, 1.0 - alert_budget)
    in_budget = scores >= cutoff
    caught = int((in_budget & (labels == 1)).sum())
    by_pattern: dict[str, float] = {}
    if patterns is not None:
        for pattern in sorted({str(p) for p in patterns[labels == 1]}):
            mask = (patterns == pattern) & (labels == 1)
            by_pattern[pattern] = float(flagged[mask].mean())
    return Metrics(
        pr_auc=float(average_precision_score(labels, scores)),
        roc_auc=float(roc_auc_score(labels, scores)),
        threshold=float(threshold),
        precision_at_threshold=true_pos / max(int(flagged.sum()), 1),
        recall_at_threshold=true_pos / max(positives, 1),
        alert_rate_at_threshold=float(flagged.mean()),
        alert_budget=alert_budget,
        recall_at_budget=caught / max(positives, 1),
        precision_at_budget=caught / max(int(in_budget.sum()), 1),
        rows=len(labels),
        positives=positives,
        recall_by_pattern=by_pattern,
    )


def baseline_scores(x_train: Array, y_train: Array, x_eval: list[Array], seed: int) -> list[Array]:
    """Logistic regression on standardised features, fitted on the training window only."""
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed),
    )
    model.fit(x_train, y_train)
    return [model.predict_proba(x)[:, 1].astype(np.float32) for x in x_eval]


def plot(out: Path, curves: dict[str, tuple[Array, Array]], threshold: float) -> list[Path]:
    """Precision-recall curves of each model, and the score distribution by label of the first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out / "precision_recall.png", out / "score_distribution.png"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, (scores, labels) in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ap = average_precision_score(labels, scores)
        ax.plot(recall, precision, label=f"{name} (PR-AUC {ap:.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test window")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    scores, labels = next(iter(curves.values()))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = np.linspace(0, 1, 51).tolist()
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, density=True, label="legitimate")
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, density=True, label="fraud")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set(xlabel="score", ylabel="density (log)", yscale="log", title="Scores by label, test")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths
