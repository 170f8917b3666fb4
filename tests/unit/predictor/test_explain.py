"""Reasons: the swaps are the right rows, and the contributions name the features a person would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from feature_repo.spec import FEATURE_NAMES
from predictor.explain import contributions, swapped, top_reasons
from predictor.scorer import load_model
from tests.unit.predictor.onnx_models import typical_row, write_model

F = len(FEATURE_NAMES)


def test_swapped_replaces_one_feature_per_row() -> None:
    base = np.arange(2 * F, dtype=np.float32).reshape(2, F)
    donor = np.full((1, F), -1.0, dtype=np.float32)
    rows = swapped(base, donor).reshape(2, F, F)
    for i in range(2):
        for j in range(F):
            expected = base[i].copy()
            expected[j] = -1.0
            np.testing.assert_array_equal(rows[i, j], expected)


def test_linear_model_contributions_are_weight_times_difference() -> None:
    weights = np.linspace(-1, 1, F).astype(np.float32)

    def linear(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return (rows @ weights).astype(np.float32)

    x = np.random.default_rng(1).normal(size=(3, F)).astype(np.float32)
    ref = np.zeros((1, F), dtype=np.float32)
    contrib = contributions(x, linear(x), ref, float(linear(ref)[0]), linear)
    np.testing.assert_allclose(contrib, x * weights, rtol=1e-4, atol=1e-5)


def test_reasons_of_a_suspicious_row_name_its_suspicious_features(tmp_path: Path) -> None:
    model = load_model(str(write_model(tmp_path / "m.onnx", "1")))
    row = np.array([typical_row()], dtype=np.float32)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    row[0, col["amount_to_median_ratio"]] = 12.0  # a payment twelve times the usual
    row[0, col["distance_from_home_km"]] = 1500.0  # far from home
    row[0, col["is_online"]] = 1.0  # mildly suspicious
    scores = model.score(row)
    assert scores[0] > model.threshold

    reasons = model.reasons(row, scores, top=3)[0]
    assert [r.feature for r in reasons] == [
        "amount_to_median_ratio", "distance_from_home_km", "is_online",
    ]  # fmt: skip
    assert reasons[0].value == 12.0 and reasons[0].reference == 1.0
    assert all(r.contribution > 0 for r in reasons)
    assert reasons[0].contribution > reasons[1].contribution > reasons[2].contribution


def test_saturated_scores_still_have_reasons(tmp_path: Path) -> None:
    model = load_model(str(write_model(tmp_path / "m.onnx", "1")))
    row = np.array([typical_row()], dtype=np.float32)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    row[0, col["amount_to_median_ratio"]] = 500.0
    row[0, col["speed_from_last_kmh"]] = 5000.0
    scores = model.score(row)
    assert scores[0] == 1.0  # float32 sigmoid saturates: leave-one-out alone would say nothing
    features = [r.feature for r in model.reasons(row, scores, top=3)[0]]
    assert set(features[:2]) == {"amount_to_median_ratio", "speed_from_last_kmh"}


def test_a_typical_row_has_no_reasons() -> None:
    ref = np.array([typical_row()], dtype=np.float32)
    contrib = np.zeros((1, F))
    assert top_reasons(ref, contrib, ref, 3) == [[]]
