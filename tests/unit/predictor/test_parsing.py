"""Request parsing: good requests come through, every bad one says what is wrong and why."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from kserve import InferInput, InferRequest

from feature_repo.spec import FEATURE_NAMES
from predictor.errors import InvalidRequest
from predictor.parsing import EventsRequest, UserRequest, parse_v1, parse_v2

F = len(FEATURE_NAMES)
EVENT = {
    "transaction_id": "t1", "user_id": "user_1", "amount": 42.5, "currency": "EUR",
    "merchant_id": "m1", "merchant_category": "grocery",
    "timestamp": "2026-09-18T11:30:00+02:00", "latitude": 48.85, "longitude": 2.35,
    "channel": "pos", "used_chip": True, "used_pin": True,
}  # fmt: skip


def test_v1_user_and_instances() -> None:
    assert parse_v1({"user_id": " user_7 "}, 10) == UserRequest("user_7")
    parsed = parse_v1({"instances": [EVENT, {**EVENT, "transaction_id": "t2"}]}, 10)
    assert isinstance(parsed, EventsRequest)
    assert [e.transaction_id for e in parsed.events] == ["t1", "t2"]
    assert isinstance(parse_v1(b'{"user_id": "u"}', 10), UserRequest)


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        ([1, 2], "schema", "expected a JSON object"),
        (b"{nope", "malformed", "not JSON"),
        ({}, "schema", "exactly one of"),
        ({"user_id": "u", "instances": []}, "schema", "exactly one of"),
        ({"user_id": 5}, "schema", "user_id must be a non-empty string"),
        ({"user_id": ""}, "schema", "user_id must be a non-empty string"),
        ({"instances": {"a": 1}}, "schema", "must be a list"),
        ({"instances": []}, "empty", "is empty"),
        ({"instances": [EVENT] * 11}, "too_large", "at most 10"),
        ({"instances": [{**EVENT, "amount": "a lot"}]}, "schema", "instances[0].amount"),
        ({"instances": [{**EVENT, "amount": float("nan")}]}, "nan", "finite number"),
        ({"instances": [{k: v for k, v in EVENT.items() if k != "currency"}]}, "schema",
         "instances[0].currency: Field required"),
        ({"instances": [EVENT, {**EVENT, "channel": "fax"}]}, "schema", "instances[1].channel"),
        ({"instances": [{**EVENT, "timestamp": "2026-09-18"}]}, "schema", "RFC 3339"),
        ({"instances": [{**EVENT, "extra": 1}]}, "schema", "instances[0].extra"),
    ],
)  # fmt: skip
def test_v1_bad_bodies(body: Any, reason: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_v1(body, 10)
    assert caught.value.reason == reason
    assert message in caught.value.message


def _request(
    data: Any, shape: list[int], datatype: str = "FP32", name: str = "features", **params: Any
) -> InferRequest:
    return InferRequest(
        "fraud-detector", [InferInput(name, shape, datatype, data)], parameters=params or None
    )


def test_v2_tensor_and_explain_flag() -> None:
    rows = np.arange(2 * F, dtype=np.float32).reshape(2, F)
    parsed = parse_v2(_request(rows.tolist(), [2, F]), 100)
    np.testing.assert_array_equal(parsed.features, rows)
    assert parsed.features.dtype == np.float32 and parsed.explain == "none"
    flat = rows.reshape(-1).tolist()
    assert parse_v2(_request(flat, [2, F], explain=True), 100).explain == "all"
    assert parse_v2(_request(flat, [2, F], explain="true"), 100).explain == "all"
    assert parse_v2(_request(flat, [2, F], explain=False), 100).explain == "none"
    assert parse_v2(_request(flat, [2, F], explain="decided"), 100).explain == "decided"


@pytest.mark.parametrize(
    ("request_", "reason", "message"),
    [
        (_request([[0.0] * F], [1, F], name="x"), "schema", "exactly one input named"),
        (_request([[0.0] * F], [1, F], datatype="FP64"), "dtype", "must be FP32, got FP64"),
        (_request([[0] * F], [1, F], datatype="INT32"), "dtype", "must be FP32"),
        (_request([[0.0] * (F - 1)], [1, F - 1]), "shape", f"[N, {F}]"),
        (_request([0.0] * F, [F]), "shape", f"[N, {F}]"),
        (_request([], [0, F]), "empty", "no rows"),
        (_request([[0.0] * F] * 6, [6, F]), "too_large", "at most 5"),
        (_request([0.0] * (F - 3), [1, F]), "shape", "cannot reshape"),
        (_request([["x"] * F], [1, F]), "dtype", 'must be JSON numbers, got "x", "x", "x"'),
        (_request([["35.0"] + [0.0] * (F - 1)], [1, F]), "dtype", 'numbers, got "35.0"'),
        (_request([0.0] * (F - 1) + [True], [1, F]), "dtype", "numbers, got true"),
        (_request([[0.0] * F, [None] + [0.0] * (F - 1)], [2, F]), "dtype", "numbers, got null"),
        (_request([[10**309] + [0.0] * (F - 1)], [1, F]), "dtype", "int too large"),
        (_request([[0.0] * F, [0.0] * (F - 1) + [float("nan")]], [2, F]), "nan", "rows [1]"),
        (_request([[float("inf")] + [0.0] * (F - 1)], [1, F]), "nan", FEATURE_NAMES[0]),
        (_request([[0.0] * F], [1, F], explain=[1]), "schema", 'a boolean or "decided"'),
        (_request([[0.0] * F], [1, F], explain="alerts"), "schema", "got 'alerts'"),
    ],
)  # fmt: skip
def test_v2_bad_tensors(request_: InferRequest, reason: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_v2(request_, 5)
    assert caught.value.reason == reason
    assert message in caught.value.message
