"""Rollout without downtime, against a real server, registry and Redis.

The server starts before anything is promoted (503), picks up the first champion, swaps to a new
one while client threads hammer it (no request may fail; each response names its version), and
refuses a corrupt version and one with another feature list while the old one keeps serving.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batch_pipeline.registry import Registry
from deploy.stack import StackSettings
from feature_repo.spec import FEATURE_NAMES
from tests.integration.conftest import PreparedWorld
from tests.unit.predictor.harness import FeastWorld, PredictorProcess, feast_world
from tests.unit.predictor.onnx_models import typical_row, write_model

pytestmark = [pytest.mark.spark, pytest.mark.redis, pytest.mark.registry, pytest.mark.slow]
INFER = "/v2/models/fraud-detector/infer"
PREDICT = "/v1/models/fraud-detector:predict"
POLL_S = 0.5
CLIENTS = 8


class Rollout:
    """A registered model private to this module, and where its artifacts go."""

    def __init__(self, registry_url: str, folder: Path) -> None:
        self.name = f"fraud-reload-{uuid.uuid4().hex[:8]}"
        self.registry = Registry(registry_url, model_name=self.name)
        self.folder = folder

    def release(self, version: str, path: Path | None = None, **model: Any) -> None:
        """Register `version` (a built model, or the file at `path`) and promote it."""
        if path is None:
            path = write_model(self.folder / version / "model.onnx", version, **model)
        self.registry.register(version, path.as_uri(), {"pr_auc": 0.5})
        self.registry.promote(version, "integration test")


@pytest.fixture(scope="module")
def rollout(registry_url: str, tmp_path_factory: pytest.TempPathFactory) -> Rollout:
    return Rollout(registry_url, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def world(
    prepared_world: PreparedWorld, stack_settings: StackSettings, redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> FeastWorld:  # fmt: skip
    connection = stack_settings.feast_redis
    return feast_world(prepared_world.out, tmp_path_factory.mktemp("feast"), connection)


@pytest.fixture(scope="module")
def server(
    rollout: Rollout, world: FeastWorld, registry_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PredictorProcess]:  # fmt: skip
    process = PredictorProcess(
        [
            "--registry-url", registry_url, "--registered-model", rollout.name,
            "--reload-interval", str(POLL_S), *world.server_args(),
        ],
        tmp_path_factory.mktemp("server") / "predictor.log",
    ).start()  # fmt: skip
    yield process
    assert process.stop() == 0, process.log()[-3000:]


def _infer(client: httpx.Client, url: str) -> httpx.Response:
    tensor = {"name": "features", "shape": [4, len(FEATURE_NAMES)], "datatype": "FP32",
              "data": [typical_row()] * 4}  # fmt: skip
    return client.post(url + INFER, json={"inputs": [tensor]}, timeout=10)


def _version(server: PredictorProcess) -> str:
    with httpx.Client() as client:
        response = _infer(client, server.url)
    assert response.status_code == 200, response.text
    version: str = response.json()["model_version"]
    return version


def _reloads(server: PredictorProcess, outcome: str) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith(f'fraud_predictor_model_reloads_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_no_champion_is_503_then_the_first_one_serves(
    server: PredictorProcess, rollout: Rollout
) -> None:
    ready = httpx.get(server.url + "/v2/models/fraud-detector/ready")
    assert ready.status_code == 503
    with httpx.Client() as client:
        refused = _infer(client, server.url)
    assert refused.status_code == 503
    assert "fraud-detector is not ready" in refused.json()["error"]

    rollout.release("1")
    assert server.wait_for("/v2/models/fraud-detector/ready", 200).status_code == 200
    assert _version(server) == "1"


def test_hot_reload_under_load_fails_no_request(
    server: PredictorProcess, rollout: Rollout, world: FeastWorld
) -> None:
    assert _version(server) == "1"
    users = list(world.latest.index[:50])
    stop = threading.Event()
    seen: list[list[tuple[str, int, str]]] = [[] for _ in range(CLIENTS)]

    def hammer(i: int) -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.is_set():
                try:
                    if i % 2:
                        r = _infer(client, server.url)
                        version = r.json().get("model_version", "?") if r.is_success else "?"
                    else:
                        r = client.post(server.url + PREDICT, json={"user_id": users[n % 50]},
                                        timeout=10)  # fmt: skip
                        version = r.json().get("model_version", "?") if r.is_success else "?"
                    seen[i].append(("v2" if i % 2 else "v1", r.status_code, version))
                except httpx.HTTPError as exc:
                    seen[i].append(("error", 0, repr(exc)))
                n += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    rollout.release("2", threshold=0.6)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        s and s[-1][2] == "2" for s in seen
    ):  # every client has been answered by version 2
        time.sleep(0.1)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    everything = [r for s in seen for r in s]
    failures = [r for r in everything if r[1] != 200]
    assert not failures, f"{len(failures)} of {len(everything)} failed, e.g. {failures[:3]}"
    assert len(everything) > 200
    for per_client in seen:
        versions = [v for _, _, v in per_client]
        assert versions[0] == "1" and versions[-1] == "2"
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}  # no flapping


def test_bad_versions_are_refused_and_the_old_one_keeps_serving(
    server: PredictorProcess, rollout: Rollout
) -> None:
    assert _version(server) == "2"
    before = {o: _reloads(server, o) for o in ("refused_artifact", "refused_features")}

    corrupt = rollout.folder / "3" / "model.onnx"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"\x08\x07 this is not an ONNX graph")
    rollout.release("3", path=corrupt)
    time.sleep(POLL_S * 6)
    assert _version(server) == "2"
    assert _reloads(server, "refused_artifact") == before["refused_artifact"] + 1

    rollout.release("4", feature_names=(*FEATURE_NAMES[:-1], "new_feature"))
    time.sleep(POLL_S * 6)
    assert _version(server) == "2"
    assert _reloads(server, "refused_features") == before["refused_features"] + 1
    log = server.log()
    assert "model refused what=champion version=3" in log
    assert "model refused what=champion version=4" in log and "unknown ['new_feature']" in log

    rollout.release("5")  # the watcher is still alive after refusals
    deadline = time.monotonic() + 15
    while _version(server) != "5" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _version(server) == "5"
    metrics = httpx.get(server.url + "/metrics").text
    assert 'model_version="5"' in metrics and 'model_version="2"' in metrics
