"""Export the trained net as the project's ONNX artifact and prove it scores like torch."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import torch

from batch_pipeline.model.errors import ExportError
from batch_pipeline.model.net import FraudNet, Probability
from batch_pipeline.model.train import predict
from predictor.artifact import INPUT_NAME, OUTPUT_NAME, ModelMetadata, write_metadata

log = logging.getLogger(__name__)

OPSET = 18
TOLERANCE = 1e-5


def to_onnx(net: FraudNet, n_features: int) -> onnx.ModelProto:
    """The graph raw features [N, F] -> probability [N], with a dynamic batch dimension."""
    model = Probability(net).eval()
    sample = torch.zeros((2, n_features), dtype=torch.float32)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy TorchScript exporter warns that it is legacy; it is exact and dependency-free.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (sample,),
            buffer,  # type: ignore[arg-type]  # a file-like object works; the stub says path
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto)
    return proto


def export(
    net: FraudNet, metadata: ModelMetadata, check_rows: npt.NDArray[np.float32], path: Path
) -> float:
    """Write the artifact; fail unless onnxruntime and torch agree within 1e-5 on `check_rows`.

    Returns:
        The largest absolute difference seen.
    """
    proto = to_onnx(net, check_rows.shape[1])
    write_metadata(proto, metadata)
    data = proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    onnx_scores = session.run([OUTPUT_NAME], {INPUT_NAME: check_rows})[0]
    torch_scores = predict(net, check_rows)
    if onnx_scores.shape != torch_scores.shape:
        raise ExportError(f"ONNX output shape {onnx_scores.shape} != torch {torch_scores.shape}")
    worst = float(np.max(np.abs(onnx_scores - torch_scores)))
    if not worst <= TOLERANCE:
        raise ExportError(
            f"ONNX and torch disagree by up to {worst:.2e} on {len(check_rows)} test rows "
            f"(allowed {TOLERANCE:.0e}); the artifact was not written"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    log.info("exported %s max_abs_diff=%.2e", path, worst)
    return worst
