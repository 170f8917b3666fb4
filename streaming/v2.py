"""The Open Inference Protocol (v2) with the binary tensor extension, as the stream speaks it.

A request is a JSON header of `Inference-Header-Content-Length` bytes followed by the raw
little-endian FP32 rows; the scores come back the same way. JSON would cost about 30 µs per row on
the predictor (predictor/README.md); raw tensors cost almost nothing at either end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from predictor.artifact import INPUT_NAME, OUTPUT_NAME, REASONS_OUTPUT, Explain

HEADER = "inference-header-content-length"
# The request parameter `explain` for each Explain (predictor/parsing.py reads it).
_EXPLAIN_PARAMETER: dict[str, bool | str] = {"none": False, "all": True, "decided": "decided"}


class ProtocolError(ValueError):
    """The predictor answered something that is not a v2 response we can read."""


@dataclass(frozen=True)
class V2Result:
    """Scores of one request, which model gave them, and the reasons asked for (None: none)."""

    scores: npt.NDArray[np.float32]
    model_version: str
    threshold: float
    reasons: list[list[dict[str, Any]]] | None


def encode(matrix: npt.NDArray[np.float32], *, explain: Explain = "none") -> tuple[bytes, str]:
    """Body and header length of a binary v2 request scoring `matrix` [N, F]."""
    raw = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    outputs: list[dict[str, Any]] = [{"name": OUTPUT_NAME, "parameters": {"binary_data": True}}]
    if explain != "none":
        outputs.append({"name": REASONS_OUTPUT, "parameters": {"binary_data": False}})
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": INPUT_NAME,
                    "shape": list(matrix.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(raw)},
                }  # fmt: skip
            ],
            "outputs": outputs,
            "parameters": {"explain": _EXPLAIN_PARAMETER[explain]},
        }
    )
    return head + raw, str(len(head))


def decode(body: bytes, header_length: str | None, rows: int) -> V2Result:
    """The scores (and reasons, if asked for) of a binary v2 response to a request of `rows`.

    Raises:
        ProtocolError: the response is not what the request asked for.
    """
    try:
        length = int(header_length) if header_length is not None else len(body)
        head = orjson.loads(body[:length])
        outputs = {o["name"]: o for o in head["outputs"]}
        spec = outputs[OUTPUT_NAME]
        size = spec.get("parameters", {}).get("binary_data_size")
        if size is not None:
            scores = np.frombuffer(body, dtype="<f4", count=size // 4, offset=length)
        else:
            scores = np.asarray(spec["data"], dtype=np.float32)
        reasons = None
        if REASONS_OUTPUT in outputs:
            reasons = [orjson.loads(r) for r in outputs[REASONS_OUTPUT]["data"]]
        result = V2Result(
            scores=scores.astype(np.float32, copy=False),
            model_version=str(head["model_version"]),
            threshold=float(head["parameters"]["threshold"]),
            reasons=reasons,
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise ProtocolError(f"unreadable v2 response: {exc!r}") from exc
    if len(result.scores) != rows:
        raise ProtocolError(f"{len(result.scores)} scores for {rows} rows")
    if result.reasons is not None and len(result.reasons) != rows:
        raise ProtocolError(f"{len(result.reasons)} rows of reasons for {rows} rows")
    return result
