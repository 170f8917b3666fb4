"""The stream's v2 requests ask for the reasons they want; a response that does not fit is
refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from predictor.artifact import OUTPUT_NAME, REASONS_OUTPUT, Explain
from streaming.v2 import ProtocolError, decode, encode

MATRIX = np.zeros((2, 3), dtype=np.float32)


def _head(body: bytes, length: str) -> dict[str, Any]:
    head: dict[str, Any] = orjson.loads(body[: int(length)])
    return head


@pytest.mark.parametrize(
    ("explain", "parameter", "outputs"),
    [
        ("none", False, [OUTPUT_NAME]),
        ("all", True, [OUTPUT_NAME, REASONS_OUTPUT]),
        ("decided", "decided", [OUTPUT_NAME, REASONS_OUTPUT]),
    ],
)
def test_a_request_asks_for_the_reasons_it_wants(
    explain: Explain, parameter: object, outputs: list[str]
) -> None:
    body, length = encode(MATRIX, explain=explain)
    head = _head(body, length)
    assert head["parameters"] == {"explain": parameter}
    assert [o["name"] for o in head["outputs"]] == outputs
    assert len(body) == int(length) + MATRIX.nbytes


def _response(reasons: list[bytes] | None) -> bytes:
    outputs: list[dict[str, object]] = [{"name": OUTPUT_NAME, "data": [0.1, 0.9]}]
    if reasons is not None:
        outputs.append({"name": REASONS_OUTPUT, "data": [r.decode() for r in reasons]})
    return orjson.dumps(
        {"model_version": "3", "parameters": {"threshold": 0.5}, "outputs": outputs}
    )


def test_reasons_come_back_per_row_and_a_short_list_is_refused() -> None:
    why = [{"feature": "amount_to_median_ratio", "value": 9.0}]
    result = decode(_response([b"[]", orjson.dumps(why)]), None, 2)
    assert result.reasons == [[], why] and result.model_version == "3"
    assert decode(_response(None), None, 2).reasons is None
    with pytest.raises(ProtocolError, match="1 rows of reasons for 2 rows"):
        decode(_response([b"[]"]), None, 2)
