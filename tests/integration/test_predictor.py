"""The predictor as a real process: a registered champion, Feast on real Redis, both protocols.

One server serves the module: champion version 1 of a registered model private to this module,
online features from the prepared world under a Feast project of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

from batch_pipeline.registry import Registry
from deploy.stack import StackSettings
from feature_repo.activity import Activity, Previous
from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.events import Transaction
from feature_repo.feature_views import ACTIVITY_COLUMNS
from feature_repo.spec import (
    ACTIVITY_TTL,
    EVENT_FEATURES,
    FEATURE_NAMES,
    PROFILE_FEATURES,
    PROFILE_STORED,
)
from feature_repo.store import open_store
from feature_repo.vectors import event_features, profile_derived
from predictor.scorer import LoadedModel, load_model
from tests.integration.conftest import PreparedWorld
from tests.unit.predictor.harness import (
    FeastWorld,
    PredictorProcess,
    feast_world,
    listening_addresses,
)
from tests.unit.predictor.onnx_models import typical_row, write_model

pytestmark = [pytest.mark.spark, pytest.mark.redis, pytest.mark.registry, pytest.mark.slow]
F = len(FEATURE_NAMES)
PREDICT = "/v1/models/fraud-detector:predict"
INFER = "/v2/models/fraud-detector/infer"
PROFILE_TTL = pd.Timedelta(days=2)
MAX_BODY = 65_536


@pytest.fixture(scope="module")
def world(
    prepared_world: PreparedWorld, stack_settings: StackSettings, redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> FeastWorld:  # fmt: skip
    connection = stack_settings.feast_redis
    return feast_world(prepared_world.out, tmp_path_factory.mktemp("feast"), connection)


@pytest.fixture(scope="module")
def served(
    world: FeastWorld, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PredictorProcess, LoadedModel]]:
    """The server and a local copy of the model it serves (to compute expected scores)."""
    tmp = tmp_path_factory.mktemp("predictor")
    name = f"fraud-test-{uuid.uuid4().hex[:8]}"
    path = write_model(tmp / "1" / "model.onnx", "1", threshold=0.5, model_name=name)
    registry = Registry(registry_url, model_name=name)
    registry.register("1", path.as_uri(), {"pr_auc": 0.5})
    registry.promote("1", "integration test")
    server = PredictorProcess(
        [
            "--registry-url", registry_url, "--registered-model", name,
            "--reload-interval", "1", "--max-instances", "8", "--max-batch-rows", "64",
            "--max-body-bytes", str(MAX_BODY), *world.server_args(),
        ],
        tmp / "predictor.log",
    ).start()  # fmt: skip
    yield server, load_model(str(path))
    assert server.stop() == 0, server.log()[-3000:]


def _post(server: PredictorProcess, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=10)


def _fresh_users(world: FeastWorld, after: pd.Timedelta | None = None) -> list[str]:
    """Users whose latest profile is usable for their latest transaction (`after` None: by
    user_id, whatever its age below the TTL), or for a new event `after` it (available by then,
    the point-in-time rule)."""
    joined = world.latest.join(world.profiles, rsuffix="_profile", how="inner")
    age = joined["event_timestamp"] + (after or pd.Timedelta(0)) - joined["event_timestamp_profile"]
    usable = age <= PROFILE_TTL
    if after is not None:
        usable &= age >= pd.Timedelta(0)
    return sorted(joined.index[usable])


def _expected_latest(world: FeastWorld, user: str) -> list[float]:
    """The user's latest transaction's vector from the prepared files, the stated rule."""
    tx, profile = world.latest.loc[user], world.profiles.loc[user]
    values = {n: float(tx[n]) for n in EVENT_FEATURES}
    values["has_profile"] = 1.0
    values.update({n: float(profile[n]) for n in PROFILE_FEATURES[1:]})
    derived = profile_derived(
        tx["amount"], tx["latitude"], tx["longitude"], True, profile["home_latitude"],
        profile["home_longitude"], profile["amount_median_90d"],
    )  # fmt: skip
    values.update({n: float(v) for n, v in derived.items()})
    return [values[n] for n in FEATURE_NAMES]


def test_metadata_readiness_and_loopback(served: tuple[PredictorProcess, LoadedModel]) -> None:
    server, _ = served
    metadata = httpx.get(server.url + "/v2/models/fraud-detector").json()
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, F]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("fraud_probability", "FP32", [-1]), ("decision", "BOOL", [-1]),
        ("reasons", "BYTES", [-1]),
    ]  # fmt: skip
    assert httpx.get(server.url + "/v2/models/fraud-detector/ready").json()["ready"] is True
    assert listening_addresses(server.port) == {"127.0.0.1"}


def test_v1_user_id_scores_the_latest_transaction(
    served: tuple[PredictorProcess, LoadedModel], world: FeastWorld
) -> None:
    server, model = served
    users = _fresh_users(world)[:5]
    assert users
    for user in users:
        response = _post(server, PREDICT, {"user_id": user})
        assert response.status_code == 200, response.text
        body = response.json()
        (result,) = body["predictions"]
        expected = float(model.score(np.array([_expected_latest(world, user)], np.float32))[0])
        assert result["score"] == pytest.approx(expected, abs=1e-5)
        assert result["model_version"] == body["model_version"] == "1"
        assert result["decision"] == ("alert" if expected >= 0.5 else "pass")
        assert result["profile_found"] and result["activity_found"] and result["user_id"] == user
        assert len(result["reasons"]) <= 3
        for reason in result["reasons"]:
            assert set(reason) == {"feature", "value", "reference", "contribution"}
            assert reason["feature"] in FEATURE_NAMES and reason["contribution"] > 0


def test_v1_unknown_user_is_404(served: tuple[PredictorProcess, LoadedModel]) -> None:
    server, _ = served
    response = _post(server, PREDICT, {"user_id": "no-such-user"})
    assert response.status_code == 404
    assert "'no-such-user' has no activity in the online store" in response.json()["error"]


def test_v1_user_idle_past_the_activity_ttl_is_404(
    served: tuple[PredictorProcess, LoadedModel], world: FeastWorld
) -> None:
    """Redis keeps a user's activity row for good, and Feast's read returns it whatever its age;
    the view's TTL is applied by the predictor."""
    server, _ = served
    store = open_store(world.data, world.redis_connection, project=world.project)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    hour, tag = pd.Timedelta(hours=1), uuid.uuid4().hex[:6]
    rows = {f"idle-{tag}": now - ACTIVITY_TTL - hour, f"recent-{tag}": now - ACTIVITY_TTL + hour}
    store.push(PUSH_SOURCE, pd.DataFrame([
        {"user_id": user, "event_timestamp": at, **{n: 1.0 for n in ACTIVITY_COLUMNS}}
        for user, at in rows.items()
    ]))  # fmt: skip
    idle, recent = (_post(server, PREDICT, {"user_id": u}) for u in rows)
    assert idle.status_code == 404, idle.text
    assert "in the activity view's 30-day TTL" in idle.json()["error"]
    assert recent.status_code == 200, recent.text
    assert recent.json()["predictions"][0]["activity_found"]


def _event(tid: str, user: str, at: pd.Timestamp, **fields: Any) -> dict[str, Any]:
    return {
        "transaction_id": tid, "user_id": user, "amount": 250.0, "currency": "EUR",
        "merchant_id": "merchant-never-seen", "merchant_category": "electronics",
        "timestamp": at.isoformat(), "latitude": 41.39, "longitude": 2.17, "channel": "online",
        "used_chip": False, "used_pin": False, **fields,
    }  # fmt: skip


def test_v1_instances_are_scored_in_one_batch(
    served: tuple[PredictorProcess, LoadedModel], world: FeastWorld
) -> None:
    server, model = served
    user = _fresh_users(world, after=pd.Timedelta(hours=25))[0]
    tx, profile = world.latest.loc[user], world.profiles.loc[user]
    # 25 h after the user's latest transaction: every window has emptied, so the features the
    # predictor derives from the online row are exact, and the profile is still fresh.
    at = tx["event_timestamp"].floor("s") + pd.Timedelta(hours=25)
    events = [
        _event("e-known", user, at),
        _event("e-new-user", f"new-{uuid.uuid4().hex[:6]}", at),
        _event("e-again", user, at + pd.Timedelta(minutes=2), amount=260.0),
    ]
    response = _post(server, PREDICT, {"instances": events})
    assert response.status_code == 200, response.text
    results = response.json()["predictions"]
    assert [r["transaction_id"] for r in results] == ["e-known", "e-new-user", "e-again"]

    known = Transaction.model_validate(events[0])
    previous = Previous(int(tx["event_timestamp"].floor("s").timestamp() * 1e6), tx["latitude"],
                        tx["longitude"])  # fmt: skip
    stored = {n: float(profile[n]) for n in PROFILE_STORED}
    expected = event_features(known, Activity(1, 1, 250.0, 250.0, previous, False), stored)
    new = Transaction.model_validate(events[1])
    expected_new = event_features(new, Activity(1, 1, 250.0, 250.0, None, False), None)
    rows = [[e[n] for n in FEATURE_NAMES] for e in (expected, expected_new)]
    scores = model.score(np.array(rows, np.float32))
    assert results[0]["score"] == pytest.approx(float(scores[0]), abs=1e-5)
    assert results[0]["profile_found"] and results[0]["activity_found"]
    assert results[1]["score"] == pytest.approx(float(scores[1]), abs=1e-5)
    assert not results[1]["profile_found"] and not results[1]["activity_found"]
    # The third event sees the first: two in the hour, two minutes after it.
    assert results[2]["score"] > results[0]["score"]
    assert any(r["feature"] == "amount_sum_1h" for r in results[2]["reasons"])
    assert all(r["model_version"] == "1" for r in results)


def test_v2_with_a_standard_client_json_and_binary(
    served: tuple[PredictorProcess, LoadedModel],
) -> None:
    server, model = served
    rows = np.array([typical_row()] * 3, dtype=np.float32)
    rows[1, FEATURE_NAMES.index("amount_to_median_ratio")] = 15.0
    expected = model.score(rows)

    async def call(binary: bool) -> Any:
        tensor = InferInput("features", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows, binary_data=binary)
        request = InferRequest("fraud-detector", [tensor], parameters={"explain": True})
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=10)) as client:
            return await client.infer(server.url, request, model_name="fraud-detector")

    for binary in (False, True):
        response = asyncio.run(call(binary))
        # (kserve's client drops the response's model_version when parsing; checked below)
        assert response.parameters == {"threshold": 0.5}
        outputs = {o.name: o for o in response.outputs}
        np.testing.assert_allclose(outputs["fraud_probability"].as_numpy(), expected, atol=1e-6)
        assert outputs["decision"].as_numpy().tolist() == [False, True, False]
        assert "amount_to_median_ratio" in str(outputs["reasons"].data[1])

    plain = _post(server, INFER, {"inputs": [
        {"name": "features", "shape": [1, F], "datatype": "FP32", "data": typical_row()}
    ]})  # fmt: skip
    assert plain.status_code == 200 and plain.json()["model_version"] == "1"
    assert [o["name"] for o in plain.json()["outputs"]] == ["fraud_probability", "decision"]

    raw = rows.tobytes()
    head = orjson.dumps({"inputs": [{"name": "features", "shape": [3, F], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}]})  # fmt: skip
    truncated = httpx.post(
        server.url + INFER, content=head + raw[:-4],
        headers={"content-type": "application/octet-stream",
                 "inference-header-content-length": str(len(head))},
    )  # fmt: skip
    assert truncated.status_code == 400 and "does not fit" in truncated.json()["error"]


GOOD_EVENT = _event("t", "user_1", pd.Timestamp("2026-10-01T10:00:00+00:00"))
IN_9999 = "9999-12-31T23:59:59Z"  # a wrong clock


def _tensor(data: Any, shape: list[int], datatype: str = "FP32") -> dict[str, Any]:
    return {"inputs": [{"name": "features", "shape": shape, "datatype": datatype, "data": data}]}


BAD_REQUESTS: list[tuple[str, str, Any, str]] = [
    ("v1 not an object", PREDICT, [1, 2], "expected a JSON object"),
    ("v1 not JSON", PREDICT, b"{oops", "Unrecognized request format"),
    ("v1 no known field", PREDICT, {"user": "u"}, 'exactly one of "user_id" or "instances"'),
    ("v1 user_id wrong type", PREDICT, {"user_id": 17}, "user_id must be a non-empty string"),
    ("v1 missing field", PREDICT, {"instances": [{**GOOD_EVENT, "amount": None}]},
     "instances[0].amount"),
    ("v1 wrong type", PREDICT, {"instances": [{**GOOD_EVENT, "used_pin": "maybe"}]},
     "instances[0].used_pin"),
    ("v1 negative amount", PREDICT, {"instances": [{**GOOD_EVENT, "amount": -3}]},
     "greater than 0"),
    ("v1 NaN", PREDICT, b'{"instances": [{"amount": NaN}]}', "Unrecognized request format"),
    ("v1 dated ahead", PREDICT, {"instances": [{**GOOD_EVENT, "timestamp": IN_9999}]},
     "s ahead of this request"),
    ("v1 empty batch", PREDICT, {"instances": []}, "is empty"),
    ("v1 oversized batch", PREDICT, {"instances": [GOOD_EVENT] * 9}, "at most 8"),
    ("v2 not an inference request", INFER, {"data": [1]}, "not a v2 inference request"),
    ("v2 wrong name", INFER, {"inputs": [{"name": "x", "shape": [1, F], "datatype": "FP32",
                                          "data": [0.0] * F}]}, "exactly one input named"),
    ("v2 wrong dtype", INFER, _tensor([0] * F, [1, F], "INT64"), "must be FP32"),
    ("v2 wrong shape", INFER, _tensor([0.0] * 10, [1, 10]), f"[N, {F}]"),
    ("v2 data/shape mismatch", INFER, _tensor([0.0] * F, [2, F]), "cannot reshape"),
    ("v2 strings", INFER, _tensor(["a"] * F, [1, F]), 'must be JSON numbers, got "a"'),
    ("v2 NaN", INFER, b'{"inputs": [{"name": "features", "shape": [1, 26], "datatype": "FP32", '
     b'"data": [NaN' + b", 0" * 25 + b"]}]}", "NaN or infinite"),
    ("v2 empty", INFER, _tensor([], [0, F]), "no rows"),
    ("v2 oversized", INFER, _tensor([0.0] * F * 65, [65, F]), "at most 64"),
    ("v2 shape not ints", INFER, _tensor([0.0] * F, ["one", F]),  # type: ignore[list-item]
     "not a v2 inference request"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "message"), [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_input_is_400_with_what_is_wrong(
    served: tuple[PredictorProcess, LoadedModel], path: str, body: Any, message: str
) -> None:
    server, _ = served
    if isinstance(body, bytes):
        response = httpx.post(
            server.url + path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = _post(server, path, body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_a_body_over_the_limit_is_413_and_not_read(
    served: tuple[PredictorProcess, LoadedModel],
) -> None:
    server, _ = served
    refused_before = _refused_too_large(server)
    limit = f"at most {MAX_BODY:,} are read (--max-body-bytes"
    big = np.zeros((MAX_BODY // (4 * F) + 1, F), np.float32).tobytes()
    head = orjson.dumps({"inputs": [{"name": "features", "shape": [len(big) // (4 * F), F],
                                     "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(big)}}]})  # fmt: skip
    headers = {"content-type": "application/octet-stream",
               "inference-header-content-length": str(len(head))}  # fmt: skip
    declared = httpx.post(server.url + INFER, content=head + big, headers=headers, timeout=10)
    assert declared.status_code == 413, declared.text
    assert f"is {len(head) + len(big):,} bytes; {limit}" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it arrives
        yield b'{"instances": ['
        for _ in range(MAX_BODY // 4096 + 1):
            yield b" " * 4096

    for path in (PREDICT, INFER):
        chunked = httpx.post(server.url + path, content=chunks(), timeout=10,
                             headers={"content-type": "application/json"})  # fmt: skip
        assert chunked.status_code == 413, chunked.text
        assert f"went over {MAX_BODY:,} bytes; {limit}" in chunked.json()["error"]

    # Just under the limit is read and judged as usual.
    under = httpx.post(server.url + PREDICT, content=b" " * (MAX_BODY - 2) + b"{}", timeout=10,
                       headers={"content-type": "application/json"})  # fmt: skip
    assert under.status_code == 400 and "exactly one of" in under.json()["error"], under.text
    assert _refused_too_large(server) == refused_before + 3


def _refused_too_large(server: PredictorProcess) -> float:
    name = 'fraud_predictor_refused_requests_total{reason="too_large"} '
    lines = httpx.get(server.url + "/metrics").text.splitlines()
    return next((float(line.removeprefix(name)) for line in lines if line.startswith(name)), 0.0)


def test_metrics(served: tuple[PredictorProcess, LoadedModel], world: FeastWorld) -> None:
    server, _ = served
    _post(server, PREDICT, {"user_id": _fresh_users(world)[0]})
    _post(server, INFER, _tensor([], [0, F]))
    text = httpx.get(server.url + "/metrics").text
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line and not line.startswith("#")}  # fmt: skip
    assert samples['request_predict_seconds_count{model_name="fraud-detector"}'] > 0
    assert samples['fraud_predictor_score_count{model_version="1"}'] > 0
    info = [k for k in samples if k.startswith("fraud_predictor_model_info{")]
    assert len(info) == 1 and 'model_version="1"' in info[0] and samples[info[0]] == 1
    assert samples["fraud_predictor_feast_lookup_seconds_count"] > 0
    assert samples['fraud_predictor_refused_requests_total{reason="empty"}'] >= 1
    assert samples['fraud_predictor_rows_total{protocol="v1_user"}'] >= 1
    assert samples['fraud_predictor_model_reloads_total{outcome="loaded"}'] == 1
