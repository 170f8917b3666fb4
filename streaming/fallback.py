"""The rule-based score used while the predictor is unavailable (every such result is `degraded`).

Each rule looks at features of the event's own vector (so it needs nothing the stream does not
already have) and stands for one kind of fraud that is unambiguous without a model. A row's score
is the highest score of the rules it meets, `BASE_SCORE` when it meets none; it alerts at
`FALLBACK_THRESHOLD`. The rules are deliberately few and strict: while degraded, a missed fraud
costs less than flooding the fraud team with alerts nobody can trust.

| rule | condition | score |
| --- | --- | --- |
| impossible_travel | speed_from_last_kmh >= 900 and distance_from_last_km >= 300 | 0.95 |
| card_testing | tx_count_1h >= 6 and is_online | 0.90 |
| spend_spike | has_profile and amount_to_median_ratio >= 10 and amount >= 300 | 0.85 |
| far_from_home_card_present | has_profile, distance_from_home_km >= 1000, not is_online | 0.70 |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from feature_repo.spec import FEATURE_NAMES

MODEL_NAME = "rules"
MODEL_VERSION = "fallback-1"
FALLBACK_THRESHOLD = 0.5
BASE_SCORE = 0.01
_COL = {name: j for j, name in enumerate(FEATURE_NAMES)}


Columns = dict[str, npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Rule:
    name: str
    score: float
    features: tuple[str, ...]  # reported as the reasons when the rule fires
    when: Callable[[Columns], npt.NDArray[np.bool_]]


RULES = (
    Rule(
        "impossible_travel", 0.95, ("speed_from_last_kmh", "distance_from_last_km"),
        lambda c: (c["speed_from_last_kmh"] >= 900) & (c["distance_from_last_km"] >= 300),
    ),
    Rule(
        "card_testing", 0.90, ("tx_count_1h", "is_online"),
        lambda c: (c["tx_count_1h"] >= 6) & (c["is_online"] > 0),
    ),
    Rule(
        "spend_spike", 0.85, ("amount_to_median_ratio", "amount"),
        lambda c: (c["has_profile"] > 0) & (c["amount_to_median_ratio"] >= 10)
        & (c["amount"] >= 300),
    ),
    Rule(
        "far_from_home_card_present", 0.70, ("distance_from_home_km",),
        lambda c: (c["has_profile"] > 0) & (c["distance_from_home_km"] >= 1000)
        & (c["is_online"] == 0),
    ),
)  # fmt: skip


def fallback_scores(
    features: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float32], list[list[dict[str, Any]]]]:
    """Scores [N] of feature rows [N, F], and per row the rules that fired, as reasons."""
    scores = np.full(len(features), BASE_SCORE, dtype=np.float32)
    reasons: list[list[dict[str, Any]]] = [[] for _ in range(len(features))]
    columns = {name: features[:, j] for j, name in enumerate(FEATURE_NAMES)}
    for rule in RULES:
        hit = rule.when(columns)
        scores = np.where(hit, np.maximum(scores, rule.score), scores).astype(np.float32)
        for i in np.flatnonzero(hit):
            reasons[i].extend(
                {"feature": f, "value": round(float(features[i, _COL[f]]), 6), "rule": rule.name}
                for f in rule.features
            )
    return scores, reasons
