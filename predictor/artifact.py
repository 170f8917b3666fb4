"""The model artifact contract: one ONNX file that takes raw features and returns a probability.

Training writes it (`batch_pipeline.model.export`), serving loads it (`predictor.model`); both go
through this module, so the metadata keys and the checks exist once.

Graph: input `features` float32 [N, F] in the feature spec's order (scaling is inside the graph);
output `fraud_probability` float32 [N]. Metadata (ONNX metadata_props, strings; JSON where noted):
`model_name`, `model_version`, `feature_names` (JSON list), `feature_spec_hash`, `threshold`,
`reference_values` (JSON list: a typical legitimate row, used to explain scores),
`training_window` (JSON {"start", "end"}), `metrics` (JSON), `created_at`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import onnx

from feature_repo.spec import FeatureSpecMismatch, check_feature_names, spec_hash

INPUT_NAME = "features"
OUTPUT_NAME = "fraud_probability"
REASONS_OUTPUT = "reasons"  # the v2 output of the rows' reasons, when a request asks for them
# Which rows a v2 request asks to explain: none, all, or those decided fraud (an alert's).
Explain = Literal["none", "all", "decided"]
REQUIRED_KEYS = ("model_name", "model_version", "feature_names", "feature_spec_hash", "threshold")


class ArtifactError(ValueError):
    """The file is not a usable fraud model; the message says why."""


@dataclass(frozen=True)
class ModelMetadata:
    model_name: str
    model_version: str
    feature_names: tuple[str, ...]
    feature_spec_hash: str
    threshold: float
    reference_values: tuple[float, ...] = ()
    training_window: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def to_props(self) -> dict[str, str]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "feature_names": json.dumps(list(self.feature_names)),
            "feature_spec_hash": self.feature_spec_hash,
            "threshold": repr(float(self.threshold)),
            "reference_values": json.dumps(list(self.reference_values)),
            "training_window": json.dumps(self.training_window),
            "metrics": json.dumps(self.metrics),
            "created_at": self.created_at,
        }

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        missing = [k for k in REQUIRED_KEYS if k not in props]
        if missing:
            raise ArtifactError(f"model metadata lacks {missing}; was it exported by this project?")
        try:
            return cls(
                model_name=props["model_name"],
                model_version=props["model_version"],
                feature_names=tuple(json.loads(props["feature_names"])),
                feature_spec_hash=props["feature_spec_hash"],
                threshold=float(props["threshold"]),
                reference_values=tuple(json.loads(props.get("reference_values", "[]"))),
                training_window=json.loads(props.get("training_window", "{}")),
                metrics=json.loads(props.get("metrics", "{}")),
                created_at=props.get("created_at", ""),
            )
        except (ValueError, TypeError) as exc:
            raise ArtifactError(f"model metadata is malformed: {exc}") from exc


def write_metadata(model: onnx.ModelProto, metadata: ModelMetadata) -> None:
    del model.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def read_model(path: Path) -> tuple[bytes, ModelMetadata]:
    """Read and check an artifact: a valid ONNX graph of the right shape for this feature spec.

    Raises:
        ArtifactError: missing, corrupt, or not shaped like a fraud model.
        FeatureSpecMismatch: its feature list is not the spec's (names, order or hash).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read model file {path}: {exc.strerror}") from exc
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several unrelated types for a corrupt file
        raise ArtifactError(f"{path} is not a valid ONNX model: {exc}") from exc
    metadata = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props})
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ArtifactError(
            f"{path}: expected input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, "
            f"found inputs {inputs} and outputs {outputs}"
        )
    check_feature_names(metadata.feature_names, f"model {metadata.model_version} ({path})")
    if metadata.feature_spec_hash != spec_hash():
        raise FeatureSpecMismatch(
            f"model {metadata.model_version} was trained on feature spec "
            f"{metadata.feature_spec_hash}, serving has {spec_hash()}"
        )
    return data, metadata
