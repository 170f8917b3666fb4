"""Following the champion, with an in-memory registry: swaps, refusals, registry outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from batch_pipeline.registry import RegistryError, VersionInfo
from feature_repo.spec import FEATURE_NAMES
from predictor.errors import ArtifactRefused
from predictor.reload import ChampionWatcher, ModelSource
from predictor.scorer import LoadedModel
from predictor.settings import PredictorSettings
from tests.unit.predictor.onnx_models import write_model


class FakeRegistry:
    """What the watcher uses of `Registry`: champion() and get()."""

    def __init__(self) -> None:
        self.versions: dict[str, str] = {}
        self.champion_name: str | None = None
        self.down = False

    def champion(self) -> VersionInfo | None:
        if self.down:
            raise RegistryError("registry unreachable")
        if self.champion_name is None:
            return None
        return self.get(self.champion_name)

    def get(self, name: str) -> VersionInfo:
        return VersionInfo(name, self.versions[name], {}, 0)


def _reloads(outcome: str) -> float:
    value = REGISTRY.get_sample_value("fraud_predictor_model_reloads_total", {"outcome": outcome})
    return value or 0.0


@pytest.fixture
def setup(tmp_path: Path) -> tuple[FakeRegistry, ChampionWatcher, list[LoadedModel]]:
    registry = FakeRegistry()
    source = ModelSource(PredictorSettings(feature_data=None), registry)  # type: ignore[arg-type]
    served: list[LoadedModel] = []
    watcher = ChampionWatcher(
        source, lambda: served[-1].version if served else None, served.append, 60.0
    )
    for version in ("1", "2", "5"):
        registry.versions[version] = write_model(tmp_path / f"{version}.onnx", version).as_uri()
    mismatch = write_model(tmp_path / "3.onnx", "3", feature_names=FEATURE_NAMES[1:])
    registry.versions["3"] = mismatch.as_uri()
    corrupt = tmp_path / "4.onnx"
    corrupt.write_bytes(b"not onnx")
    registry.versions["4"] = corrupt.as_uri()
    registry.versions["6"] = registry.versions["5"]  # a registry entry pointing at another file
    return registry, watcher, served


def test_no_champion_then_a_champion_then_a_new_one(setup: Any) -> None:
    registry, watcher, served = setup
    assert watcher.source.initial() is None  # nothing promoted yet: serve 503 and keep polling
    assert not watcher.poll_once()
    registry.champion_name = "1"
    assert watcher.poll_once() and served[-1].version == "1"
    assert not watcher.poll_once()  # unchanged champion: nothing reloaded
    registry.champion_name = "2"
    assert watcher.poll_once() and [m.version for m in served] == ["1", "2"]


def test_refused_versions_are_counted_once_and_the_old_one_stays(setup: Any) -> None:
    registry, watcher, served = setup
    registry.champion_name = "1"
    watcher.poll_once()
    before = {o: _reloads(o) for o in ("refused_features", "refused_artifact")}
    for bad in ("3", "4", "6"):
        registry.champion_name = bad
        assert not watcher.poll_once()
        assert not watcher.poll_once()  # remembered: not reloaded on every poll
    assert [m.version for m in served] == ["1"]
    assert _reloads("refused_features") == before["refused_features"] + 1
    assert _reloads("refused_artifact") == before["refused_artifact"] + 2
    registry.champion_name = "5"
    assert watcher.poll_once() and served[-1].version == "5"


def test_a_registry_outage_keeps_the_current_model(setup: Any) -> None:
    registry, watcher, served = setup
    registry.champion_name = "1"
    watcher.poll_once()
    registry.down = True
    before = _reloads("registry_error")
    assert not watcher.poll_once()
    assert _reloads("registry_error") == before + 1 and served[-1].version == "1"


def test_pinned_sources_fail_fast(setup: Any, tmp_path: Path) -> None:
    registry, *_ = setup
    pinned = ModelSource(PredictorSettings(model_version="4", feature_data=None), registry)
    with pytest.raises(ArtifactRefused):
        pinned.initial()
    by_file = ModelSource(
        PredictorSettings(model_uri=str(tmp_path / "2.onnx"), feature_data=None), None
    )
    model = by_file.initial()
    assert model is not None and model.version == "2"
