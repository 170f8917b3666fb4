"""`FraudDetector` in process: responses name their version, errors map to KServe's answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kserve import InferInput, InferRequest, InferResponse
from kserve.errors import InvalidInput, ModelNotReady

from feature_repo.spec import FEATURE_NAMES
from predictor.model import FraudDetector
from predictor.reload import ModelSource
from predictor.scorer import load_model
from predictor.settings import PredictorSettings
from tests.unit.predictor.onnx_models import typical_row, write_model


@pytest.fixture
def detector(tmp_path: Path) -> FraudDetector:
    settings = PredictorSettings(
        model_uri=str(write_model(tmp_path / "1.onnx", "1", threshold=0.3)), feature_data=None
    )
    model = FraudDetector(settings, ModelSource(settings, None), None, "no Feast in this test")
    assert model.load() and model.ready
    return model


def _tensor(rows: list[list[float]], **params: object) -> InferRequest:
    data = InferInput("features", [len(rows), len(FEATURE_NAMES)], "FP32", rows)
    return InferRequest("fraud-detector", [data], request_id="r1", parameters=params or None)


def _v2(detector: FraudDetector, request: InferRequest) -> dict[str, Any]:
    """The REST form of the detector's answer to a v2 request."""
    response = asyncio.run(detector.predict(request))
    assert isinstance(response, InferResponse)
    rest, _ = response.to_rest()
    assert isinstance(rest, dict)
    return rest


def test_v2_scores_decides_and_names_the_version(detector: FraudDetector, tmp_path: Path) -> None:
    suspicious = typical_row()
    suspicious[FEATURE_NAMES.index("amount_to_median_ratio")] = 9.0
    rest = _v2(detector, _tensor([typical_row(), suspicious], explain=True))
    assert rest["model_version"] == "1" and rest["id"] == "r1"
    outputs = {o["name"]: o["data"] for o in rest["outputs"]}
    assert outputs["decision"] == [False, True]
    assert outputs["fraud_probability"][1] > 0.3 > outputs["fraud_probability"][0]
    assert "amount_to_median_ratio" in outputs["reasons"][1]

    # A swap while a request holds the old model: that request still answers with version 1.
    held = detector.active
    detector.swap(load_model(str(write_model(tmp_path / "2.onnx", "2"))))
    assert held is not None and held.version == "1"
    rest = _v2(detector, _tensor([typical_row()]))
    assert rest["model_version"] == "2"


def test_v2_explains_only_the_rows_decided_fraud_when_asked(detector: FraudDetector) -> None:
    suspicious = typical_row()
    suspicious[FEATURE_NAMES.index("amount_to_median_ratio")] = 9.0
    rows = [typical_row(), suspicious, typical_row()]
    rest = _v2(detector, _tensor(rows, explain="decided"))
    outputs = {o["name"]: o["data"] for o in rest["outputs"]}
    assert outputs["decision"] == [False, True, False]
    assert outputs["reasons"][0] == outputs["reasons"][2] == "[]"
    # The decided row's reasons are those a request explaining every row gets for it.
    rest = _v2(detector, _tensor(rows, explain=True))
    every = {o["name"]: o["data"] for o in rest["outputs"]}["reasons"]
    assert outputs["reasons"][1] == every[1] and "amount_to_median_ratio" in every[1]


def test_client_mistakes_are_invalid_input_and_missing_parts_are_not_ready(
    detector: FraudDetector,
) -> None:
    with pytest.raises(InvalidInput, match="cannot reshape array of size 2"):
        asyncio.run(detector.predict(_tensor([[1.0, 2.0]])))
    with pytest.raises(ModelNotReady, match="online features are not configured"):
        asyncio.run(detector.predict({"user_id": "user_1"}))
    detector.active = None
    with pytest.raises(ModelNotReady, match="no model version is loaded"):
        asyncio.run(detector.predict(_tensor([typical_row()])))


def test_metadata_describes_the_tensors(detector: FraudDetector) -> None:
    assert detector.get_input_types() == [
        {"name": "features", "datatype": "FP32", "shape": [-1, len(FEATURE_NAMES)]}
    ]
    assert [o["name"] for o in detector.get_output_types()] == [
        "fraud_probability", "decision", "reasons",
    ]  # fmt: skip
