"""Request parsing: what a client sent, checked, or an `InvalidRequest` saying what to fix.

v1 bodies are `{"user_id": "..."}` or `{"instances": [<transaction event>, ...]}`; v2 requests
carry one FP32 tensor `features` [N, F] in the feature spec's order, and may ask for reasons with
the request parameter `explain`: `true` for every row, `"decided"` for the rows decided fraud only
(a scorer that alerts on those rows gets their reasons without a second request).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import ValidationError

from feature_repo.events import Transaction
from feature_repo.spec import FEATURE_NAMES
from predictor.artifact import INPUT_NAME, Explain
from predictor.errors import InvalidRequest

N_FEATURES = len(FEATURE_NAMES)
MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class UserRequest:
    user_id: str


@dataclass(frozen=True)
class EventsRequest:
    events: list[Transaction]


@dataclass(frozen=True)
class TensorRequest:
    features: npt.NDArray[np.float32]
    explain: Explain = "none"  # which rows get reasons


def parse_v1(body: Any, max_instances: int) -> UserRequest | EventsRequest:
    """A v1 body, decoded by KServe (a dict, or bytes when it was not sent as JSON)."""
    if isinstance(body, bytes | str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest("malformed", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest(
            "schema",
            'expected a JSON object: {"user_id": "..."} or {"instances": [<transaction>, ...]}, '
            f"got {type(body).__name__}",
        )
    keys = set(body)
    if keys == {"user_id"}:
        user = body["user_id"]
        if not isinstance(user, str) or not user.strip() or len(user) > 128:
            raise InvalidRequest("schema", "user_id must be a non-empty string of at most 128")
        return UserRequest(user.strip())
    if keys == {"instances"}:
        return EventsRequest(_events(body["instances"], max_instances))
    raise InvalidRequest(
        "schema",
        'expected exactly one of "user_id" or "instances", got fields '
        f"{sorted(keys) if keys else 'none'}",
    )


def _events(instances: Any, max_instances: int) -> list[Transaction]:
    if not isinstance(instances, list):
        raise InvalidRequest(
            "schema", f'"instances" must be a list, got {type(instances).__name__}'
        )
    if not instances:
        raise InvalidRequest("empty", '"instances" is empty: send at least one transaction')
    if len(instances) > max_instances:
        raise InvalidRequest(
            "too_large",
            f'"instances" has {len(instances)} transactions; at most {max_instances} per request',
        )
    events, problems, reason = [], [], "schema"
    for i, instance in enumerate(instances):
        try:
            events.append(Transaction.model_validate(instance))
        except ValidationError as exc:
            for error in exc.errors():
                if error["type"] == "finite_number":
                    reason = "nan"
                where = ".".join(str(p) for p in error["loc"])
                problems.append(f"instances[{i}]{'.' + where if where else ''}: {error['msg']}")
    if problems:
        more = len(problems) - MAX_ERRORS_SHOWN
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidRequest(reason, f"invalid transaction event(s): {shown}")
    return events


def parse_v2(request: Any, max_rows: int) -> TensorRequest:
    """A v2 `InferRequest`: exactly one FP32 input `features` of shape [N, F], all finite."""
    inputs = list(request.inputs)
    names = [i.name for i in inputs]
    if names != [INPUT_NAME]:
        raise InvalidRequest(
            "schema", f"expected exactly one input named {INPUT_NAME!r}, got {names or 'none'}"
        )
    tensor = inputs[0]
    if tensor.datatype != "FP32":
        raise InvalidRequest("dtype", f"{INPUT_NAME} must be FP32, got {tensor.datatype}")
    shape = list(tensor.shape)
    if len(shape) != 2 or shape[1] != N_FEATURES:
        raise InvalidRequest(
            "shape",
            f"{INPUT_NAME} must have shape [N, {N_FEATURES}] (the spec's features), got {shape}",
        )
    if shape[0] < 1:
        raise InvalidRequest("empty", f"{INPUT_NAME} has no rows: send at least one")
    if shape[0] > max_rows:
        raise InvalidRequest(
            "too_large", f"{INPUT_NAME} has {shape[0]} rows; at most {max_rows} per request"
        )
    if tensor.data is not None and (wrong := list(islice(_non_numbers(tensor.data), 3))):
        # numpy would read "35.0" as 35 and true as 1, and null is not a NaN the client sent.
        raise InvalidRequest(
            "dtype",
            f"{INPUT_NAME} data must be JSON numbers, got "
            + ", ".join(orjson.dumps(v).decode() for v in wrong),
        )
    try:
        matrix = np.ascontiguousarray(tensor.as_numpy(), dtype=np.float32)
    except (ValueError, TypeError, OverflowError) as exc:  # (an integer past float's range)
        reason = "dtype" if "convert" in str(exc) or isinstance(exc, TypeError) else "shape"
        raise InvalidRequest(
            reason, f"{INPUT_NAME} data does not fit FP32 shape {shape}: {exc}"
        ) from exc
    if not np.isfinite(matrix).all():
        rows = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
        cols = sorted({FEATURE_NAMES[j] for j in np.flatnonzero(~np.isfinite(matrix).all(axis=0))})
        raise InvalidRequest(
            "nan", f"{INPUT_NAME} has NaN or infinite values in rows {rows[:10].tolist()} ({cols})"
        )
    return TensorRequest(matrix, _explain(request.parameters))


def _non_numbers(data: Any) -> Iterator[Any]:
    """The values of a JSON tensor's data (a list, nested or not) that are not numbers."""
    for value in data if isinstance(data, list) else [data]:
        if isinstance(value, list):
            yield from _non_numbers(value)
        elif type(value) is not float and type(value) is not int:  # bool is an int, and refused
            yield value


def _explain(parameters: Any) -> Explain:
    value = (parameters or {}).get("explain", False)
    word = value.lower() if isinstance(value, str) else None
    if word == "decided":
        return "decided"
    if word in {"true", "1", "yes"}:
        return "all"
    if word in {"false", "0", "no"}:
        return "none"
    if word is None and isinstance(value, bool | int):
        return "all" if value else "none"
    raise InvalidRequest(
        "schema", f"parameter 'explain' must be a boolean or \"decided\", got {value!r}"
    )
