"""Small, real ONNX fraud models that follow `predictor/artifact.py`, for tests and the benchmark.

The graph is a logistic regression with the scaling inside, as the trained model's is:
`sigmoid(((features - mean) / scale) @ weights + bias)`, reshaped to [N]. Weights are chosen by
hand so that the features a fraud analyst would name (a far, fast, large, unusual payment) push
the score up; a test can then check an explanation against what it expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from feature_repo.spec import FEATURE_NAMES, spec_hash
from predictor.artifact import INPUT_NAME, OUTPUT_NAME, ModelMetadata, write_metadata

# Weights on standardised features; every feature not named here has weight 0.
WEIGHTS: dict[str, float] = {
    "tx_count_1h": 0.8,
    "amount_sum_1h": 0.3,
    "speed_from_last_kmh": 1.2,
    "merchant_seen_30d": -0.6,
    "has_profile": -0.2,
    "is_online": 0.4,
    "used_pin": -0.3,
    "distance_from_home_km": 1.0,
    "amount_to_median_ratio": 1.5,
}
BIAS = -4.0
# A typical legitimate row: the reference of occlusion explanations, and the scaling's centre.
TYPICAL: dict[str, float] = {
    "tx_count_1h": 1.0, "tx_count_24h": 3.0, "amount_sum_1h": 40.0, "amount_sum_24h": 120.0,
    "seconds_since_last_tx": 20_000.0, "distance_from_last_km": 2.0, "speed_from_last_kmh": 1.0,
    "merchant_seen_30d": 1.0, "has_profile": 1.0, "amount_median_90d": 35.0,
    "amount_mean_90d": 45.0, "amount_std_90d": 30.0, "tx_count_90d": 100.0,
    "distinct_merchants_90d": 12.0, "account_age_days": 800.0, "amount": 35.0,
    "log_amount": 3.58, "hour_sin": 0.0, "hour_cos": -1.0, "is_online": 0.0, "is_pos": 1.0,
    "is_atm": 0.0, "used_chip": 1.0, "used_pin": 1.0, "distance_from_home_km": 2.0,
    "amount_to_median_ratio": 1.0,
}  # fmt: skip
SCALE: dict[str, float] = {
    "tx_count_1h": 1.0, "amount_sum_1h": 100.0, "speed_from_last_kmh": 100.0,
    "distance_from_home_km": 200.0, "amount_to_median_ratio": 2.0,
}  # fmt: skip


def typical_row() -> list[float]:
    """The reference row in the spec's order."""
    return [TYPICAL[n] for n in FEATURE_NAMES]


def build_model(
    version: str,
    *,
    threshold: float = 0.5,
    feature_names: Sequence[str] = FEATURE_NAMES,
    feature_spec_hash: str | None = None,
    weights: Mapping[str, float] = WEIGHTS,
    bias: float = BIAS,
    reference_values: Sequence[float] | None = None,
    model_name: str = "fraud-detector",
) -> onnx.ModelProto:
    """A valid fraud model graph with this project's metadata.

    Args:
        version: The `model_version` written into the metadata.
        threshold: The decision threshold in the metadata.
        feature_names: The feature list in the metadata (change it to make a mismatch).
        feature_spec_hash: Defaults to the serving spec's hash.
        weights: Weight per standardised feature; absent features weigh 0.
        bias: The logit's intercept.
        reference_values: Defaults to the typical legitimate row.
        model_name: The `model_name` in the metadata.
    """
    n = len(feature_names)
    mean = np.array([TYPICAL.get(f, 0.0) for f in feature_names], dtype=np.float32)
    scale = np.array([SCALE.get(f, 1.0) for f in feature_names], dtype=np.float32)
    w = np.array([[weights.get(f, 0.0)] for f in feature_names], dtype=np.float32)
    inits = [
        numpy_helper.from_array(mean, "mean"),
        numpy_helper.from_array(scale, "scale"),
        numpy_helper.from_array(w, "weights"),
        numpy_helper.from_array(np.array([bias], dtype=np.float32), "bias"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "weights"], ["logit_col"]),
        helper.make_node("Add", ["logit_col", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob_col"]),
        helper.make_node("Reshape", ["prob_col", "flat"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes,
        "fraud_logistic",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # understood by every onnxruntime this project pins
    write_metadata(
        model,
        ModelMetadata(
            model_name=model_name,
            model_version=version,
            feature_names=tuple(feature_names),
            feature_spec_hash=feature_spec_hash or spec_hash(),
            threshold=threshold,
            reference_values=tuple(
                reference_values if reference_values is not None else typical_row()
            ),
            training_window={"start": "2026-09-01", "end": "2026-10-01"},
            metrics={"pr_auc": 0.5},
            created_at="2026-11-01T00:00:00+00:00",
        ),
    )
    onnx.checker.check_model(model)
    return model


def write_model(path: Path, version: str, **kwargs: object) -> Path:
    """Build a model (see `build_model`) and save it to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_model(version, **kwargs), str(path))  # type: ignore[arg-type]
    return path
