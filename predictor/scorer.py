"""One loaded model version: its checked artifact, an onnxruntime session, scoring and reasons.

A `LoadedModel` never changes after it is built; hot reload replaces the whole object, so a request
that took one keeps scoring, deciding and explaining with that version to the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from feature_repo.spec import FEATURE_NAMES, FeatureSpecMismatch
from predictor.artifact import INPUT_NAME, OUTPUT_NAME, ArtifactError, ModelMetadata, read_model
from predictor.errors import ArtifactRefused, FeaturesRefused
from predictor.explain import Reason, contributions, top_reasons

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model version ready to score: metadata, session and the reference row for reasons."""

    metadata: ModelMetadata
    session: ort.InferenceSession
    source: str
    reference: Matrix
    reference_score: float

    @property
    def version(self) -> str:
        return self.metadata.model_version

    @property
    def threshold(self) -> float:
        return self.metadata.threshold

    def score(self, features: Matrix) -> npt.NDArray[np.float32]:
        """Fraud probabilities [N] of float32 features [N, F] in the spec's order."""
        out = self.session.run([OUTPUT_NAME], {INPUT_NAME: features})[0]
        scores: npt.NDArray[np.float32] = np.asarray(out, dtype=np.float32).reshape(-1)
        return scores

    def reasons(
        self, features: Matrix, scores: npt.NDArray[np.float32], top: int
    ) -> list[list[Reason]]:
        """The `top` features that pushed each row's score up (see explain.py)."""
        if len(features) == 0:
            return []
        contrib = contributions(features, scores, self.reference, self.reference_score, self.score)
        return top_reasons(features, contrib, self.reference, top)


def artifact_path(uri: str) -> Path:
    """A local path from a registry artifact URI (`file:///…` or a plain path).

    Raises:
        ArtifactRefused: for schemes this process cannot read (in a cluster, KServe's storage
            initializer downloads s3:// or gs:// artifacts to a local path first).
    """
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return Path(unquote(parts.path) if parts.scheme else uri)
    raise ArtifactRefused(
        f"artifact URI {uri!r}: scheme {parts.scheme!r} is not readable here; "
        "register a file:// URI or a local path"
    )


def load_model(uri: str, threads: int = 1, expect_version: str | None = None) -> LoadedModel:
    """Read, check and open one artifact.

    Args:
        uri: Local path or file:// URI of the ONNX file.
        threads: onnxruntime intra-op threads (1 is fastest for small batches on a busy host).
        expect_version: The registry's name for this version; the file must say the same.

    Raises:
        ArtifactRefused: unreadable, corrupt, not a fraud model, or another version's file.
        FeaturesRefused: its feature list or spec hash is not serving's.
    """
    path = artifact_path(uri)
    try:
        data, metadata = read_model(path)
    except FeatureSpecMismatch as exc:
        raise FeaturesRefused(str(exc)) from exc
    except ArtifactError as exc:
        raise ArtifactRefused(str(exc)) from exc
    if expect_version is not None and metadata.model_version != expect_version:
        raise ArtifactRefused(
            f"registry version {expect_version} points at {path}, whose metadata says version "
            f"{metadata.model_version}: refusing to serve it under the wrong name"
        )
    reference = _reference(metadata)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        # A model that cannot score its own reference row must not serve.
        probe = LoadedModel(metadata, session, str(path), reference, 0.0).score(reference)
    except Exception as exc:  # onnxruntime raises its own unrelated types for a bad graph
        raise ArtifactRefused(f"{path}: onnxruntime cannot run it: {exc}") from exc
    if probe.shape != (1,) or not np.isfinite(probe).all():
        raise ArtifactRefused(f"{path}: scoring one row gave {probe!r}, not one probability")
    return LoadedModel(metadata, session, str(path), reference, float(probe[0]))


def _reference(metadata: ModelMetadata) -> Matrix:
    values = metadata.reference_values
    if len(values) != len(FEATURE_NAMES):
        raise ArtifactRefused(
            f"model {metadata.model_version}: reference_values has {len(values)} values for "
            f"{len(FEATURE_NAMES)} features; reasons cannot be computed without it"
        )
    reference = np.asarray([values], dtype=np.float32)
    if not np.isfinite(reference).all():
        raise ArtifactRefused(f"model {metadata.model_version}: reference_values has NaN/inf")
    return reference
