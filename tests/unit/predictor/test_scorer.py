"""Loading a model version: a good one scores, every bad one is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feature_repo.spec import FEATURE_NAMES
from predictor.errors import ArtifactRefused, FeaturesRefused
from predictor.scorer import artifact_path, load_model
from tests.unit.predictor.onnx_models import typical_row, write_model


def test_a_good_model_scores_batches(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.onnx", "7", threshold=0.42)
    model = load_model(path.as_uri(), expect_version="7")
    assert (model.version, model.threshold) == ("7", 0.42)
    rows = np.array([typical_row()] * 5, dtype=np.float32)
    scores = model.score(rows)
    assert scores.shape == (5,) and scores.dtype == np.float32
    assert np.allclose(scores, model.reference_score)
    assert 0.0 < model.reference_score < 0.1


def test_artifact_uris() -> None:
    assert artifact_path("file:///models/a%20b/model.onnx") == Path("/models/a b/model.onnx")
    assert artifact_path("/models/model.onnx") == Path("/models/model.onnx")
    with pytest.raises(ArtifactRefused, match="scheme 's3' is not readable"):
        artifact_path("s3://bucket/model.onnx")


def test_bad_models_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is not a protobuf graph")
    with pytest.raises(ArtifactRefused, match="not a valid ONNX model"):
        load_model(str(corrupt))
    with pytest.raises(ArtifactRefused, match="cannot read model file"):
        load_model(str(tmp_path / "missing.onnx"))

    reordered = write_model(tmp_path / "r.onnx", "2", feature_names=tuple(reversed(FEATURE_NAMES)))
    with pytest.raises(FeaturesRefused, match="same names in a different order"):
        load_model(str(reordered))
    fewer = write_model(tmp_path / "f.onnx", "2", feature_names=FEATURE_NAMES[:-1])
    with pytest.raises(FeaturesRefused, match="missing"):
        load_model(str(fewer))
    other_spec = write_model(tmp_path / "h.onnx", "2", feature_spec_hash="0123456789abcdef")
    with pytest.raises(FeaturesRefused, match="trained on feature spec 0123456789abcdef"):
        load_model(str(other_spec))

    with pytest.raises(ArtifactRefused, match="metadata says version 2"):
        load_model(str(write_model(tmp_path / "v.onnx", "2")), expect_version="3")
    with pytest.raises(ArtifactRefused, match="reference_values has 0 values"):
        load_model(str(write_model(tmp_path / "n.onnx", "2", reference_values=())))
