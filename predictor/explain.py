"""Reasons for a score: which features pushed it up, measured against a typical row.

The reference r is a typical legitimate row recorded in the model's metadata
(`reference_values`). For a scored row x and feature j, two one-feature swaps are measured:
- leave-one-out: s(x) - s(x with x_j := r_j), how much of the score goes away when only that
  feature looks typical;
- add-one-in: s(r with r_j := x_j) - s(r), how much that feature alone raises a typical row.
The contribution is their mean: the first and last terms of feature j's Shapley sum. Either term
alone fails in a way that matters for fraud: a saturated score (s(x) = 1) makes every
leave-one-out 0, and features that only matter together make every add-one-in small. All 2 x N x F
swapped rows go through the model in one batched call. Positive contributions are the reasons,
largest first, each with the row's value and the reference's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from feature_repo.spec import FEATURE_NAMES

Rows = npt.NDArray[np.float32]
# Contributions smaller than this are float32 noise, not a reason.
MIN_CONTRIBUTION = 1e-6


@dataclass(frozen=True)
class Reason:
    """One feature that raised a score, with its value and what a typical row has."""

    feature: str
    value: float
    reference: float
    contribution: float

    def to_dict(self) -> dict[str, str | float]:
        return {
            "feature": self.feature,
            "value": round(self.value, 6),
            "reference": round(self.reference, 6),
            "contribution": round(self.contribution, 6),
        }


def swapped(base: Rows, donor: Rows) -> Rows:
    """Rows [N * F, F]: row i * F + j is base row i with feature j taken from donor row i.

    `base` and `donor` are [N, F] or [1, F] (broadcast to the other's N).
    """
    n = max(base.shape[0], donor.shape[0])
    f = base.shape[1]
    batch = np.repeat(np.broadcast_to(base, (n, f)), f, axis=0).reshape(n, f, f).copy()
    idx = np.arange(f)
    batch[:, idx, idx] = np.broadcast_to(donor, (n, f))
    return batch.reshape(n * f, f)


def contributions(
    features: Rows,
    scores: npt.NDArray[np.float32],
    reference: Rows,
    reference_score: float,
    score: Callable[[Rows], npt.NDArray[np.float32]],
) -> npt.NDArray[np.float64]:
    """Per row and feature [N, F], the mean of leave-one-out and add-one-in (see module doc)."""
    n, f = features.shape
    rows = np.concatenate([swapped(features, reference), swapped(reference, features)])
    swaps = score(rows).astype(np.float64).reshape(2, n, f)
    leave_one_out = scores.astype(np.float64).reshape(n, 1) - swaps[0]
    add_one_in = swaps[1] - reference_score
    result: npt.NDArray[np.float64] = (leave_one_out + add_one_in) / 2
    return result


def top_reasons(
    features: Rows, contrib: npt.NDArray[np.float64], reference: Rows, top: int
) -> list[list[Reason]]:
    """Per row, up to `top` features with positive contributions, largest first."""
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    ref = reference.reshape(-1)
    return [
        [
            Reason(FEATURE_NAMES[j], float(features[i, j]), float(ref[j]), float(contrib[i, j]))
            for j in order[i]
            if contrib[i, j] > MIN_CONTRIBUTION
        ]
        for i in range(features.shape[0])
    ]
