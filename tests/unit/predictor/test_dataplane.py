"""Binary v2 requests decode to the same tensors as KServe's decoder, without the list detour."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

from predictor.dataplane import decode_binary


def _body(x: np.ndarray, **header: object) -> tuple[bytes, str]:
    raw = x.tobytes()
    spec = {"name": "features", "shape": list(x.shape), "datatype": "FP32",
            "parameters": {"binary_data_size": len(raw)}}  # fmt: skip
    head = orjson.dumps({"inputs": [spec], **header})
    return head + raw, str(len(head))


def test_same_request_as_kserves_decoder() -> None:
    x = np.random.default_rng(0).random((5, 26), dtype=np.float32)
    body, length = _body(x, id="r7", parameters={"explain": True},
                         outputs=[{"name": "fraud_probability"}])  # fmt: skip
    ours = decode_binary(body, length, "fraud-detector")
    theirs = InferRequest.from_bytes(body, int(length), "fraud-detector")
    np.testing.assert_array_equal(ours.inputs[0].as_numpy(), theirs.inputs[0].as_numpy())
    assert ours.inputs[0].as_numpy().shape == (5, 26)
    assert (ours.id, ours.parameters) == ("r7", {"explain": True})
    assert [o.name for o in ours.request_outputs] == ["fraud_probability"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b, n: (b, "abc"), "malformed binary inference request"),
        (lambda b, n: (b, str(len(b) + 1)), "not within the body"),
        (lambda b, n: (b[:-8], n), "does not fit"),
        (lambda b, n: (b"{}" + b[int(n) :], "2"), "KeyError"),
    ],
)
def test_malformed_bodies_are_invalid_input(mutate: object, message: str) -> None:
    body, length = _body(np.zeros((2, 26), dtype=np.float32))
    bad_body, bad_length = mutate(body, length)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message):
        decode_binary(bad_body, bad_length, "fraud-detector")


def _with_header(header: dict[str, object], x: np.ndarray, tail: bytes = b"") -> tuple[bytes, str]:
    head = orjson.dumps(header)
    return head + x.tobytes() + tail, str(len(head))


@pytest.mark.parametrize(
    ("shape", "extra", "message"),
    [
        (["1", 26], {}, "shape.*must be a list of integers"),
        ([None, 26], {}, "shape.*must be a list of integers"),
        ([True, 26], {}, "shape.*must be a list of integers"),
        ("1,26", {}, "shape.*must be a list of integers"),
        ([1, 26], {"parameters": [1]}, '"parameters" must be a JSON object'),
        ([1, 26], {"id": 5}, '"id" must be a string'),
        ([1, 26], {"outputs": 5}, '"outputs" must be a list of objects'),
        ([1, 26], {"outputs": [{}]}, '"outputs" must be a list of objects'),
        ([1, 26], {"outputs": [{"name": "x", "parameters": 3}]}, '"outputs" must be a list'),
    ],
)
def test_a_mistyped_header_is_invalid_input_not_a_server_error(
    shape: object, extra: dict[str, object], message: str
) -> None:
    """Each of these reached KServe or numpy unchecked, and the predictor answered 500."""
    x = np.zeros((1, 26), dtype=np.float32)
    spec = {"name": "features", "shape": shape, "datatype": "FP32",
            "parameters": {"binary_data_size": x.nbytes}}  # fmt: skip
    body, length = _with_header({"inputs": [spec], **extra}, x)
    with pytest.raises(InvalidInput, match=message):
        decode_binary(body, length, "fraud-detector")


def test_bytes_after_the_tensors_are_refused() -> None:
    """A body with more rows than its header says: not scored as the header's rows alone."""
    x = np.zeros((1, 26), dtype=np.float32)
    spec = {"name": "features", "shape": [1, 26], "datatype": "FP32",
            "parameters": {"binary_data_size": x.nbytes}}  # fmt: skip
    body, length = _with_header({"inputs": [spec]}, x, tail=x.tobytes())
    with pytest.raises(InvalidInput, match="104 bytes after its tensors"):
        decode_binary(body, length, "fraud-detector")
