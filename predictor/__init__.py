"""The KServe predictor serving the ONNX champion: v1 (users, transactions) and v2 (tensors).

Importing this package stays light (no kserve, onnxruntime or Feast): `batch_pipeline` imports
`predictor.artifact`. The server's classes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from predictor.errors import (
    ArtifactRefused,
    FeaturesRefused,
    FeaturesUnavailable,
    InvalidRequest,
    ModelRefused,
    ModelUnavailable,
    PredictorError,
    UnknownUser,
)
from predictor.settings import MODEL_NAME, PredictorSettings

if TYPE_CHECKING:
    from predictor.__main__ import main
    from predictor.model import FraudDetector

__all__ = [
    "MODEL_NAME", "ArtifactRefused", "FeaturesRefused", "FeaturesUnavailable", "FraudDetector",
    "InvalidRequest", "ModelRefused", "ModelUnavailable", "PredictorError", "PredictorSettings",
    "UnknownUser", "main",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "FraudDetector":
        from predictor.model import FraudDetector

        return FraudDetector
    if name == "main":
        from predictor.__main__ import main

        return main
    raise AttributeError(f"module 'predictor' has no attribute {name!r}")
