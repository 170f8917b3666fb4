"""The official model-registry client against the real registry server of the local stack."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from model_registry import ModelRegistry

pytestmark = pytest.mark.registry


@pytest.fixture
def registry(registry_url: str) -> ModelRegistry:
    host, port = registry_url.rsplit(":", 1)
    # Each call on a loop of its own (the client's default leaves an unclosed loop behind).
    return ModelRegistry(host, int(port), author="tests", is_secure=False, async_runner=asyncio.run)


def test_register_version_and_read_it_back(registry: ModelRegistry) -> None:
    name = f"fraud-detector-test-{uuid.uuid4().hex[:8]}"
    registry.register_model(
        name,
        "file:///models/fraud-detector/1/model.onnx",
        version="1",
        model_format_name="onnx",
        model_format_version="1",
        version_description="integration test",
        metadata={"pr_auc": 0.8125, "feature_spec_hash": "abc123", "rows_train": 1000},
    )

    model = registry.get_registered_model(name)
    version = registry.get_model_version(name, "1")
    artifact = registry.get_model_artifact(name, "1")

    assert model is not None and model.name == name
    assert version is not None
    assert version.custom_properties == {
        "pr_auc": 0.8125, "feature_spec_hash": "abc123", "rows_train": 1000
    }  # fmt: skip
    assert artifact is not None
    assert artifact.uri == "file:///models/fraud-detector/1/model.onnx"
    assert artifact.model_format_name == "onnx"


def test_metadata_update_and_version_listing(registry: ModelRegistry) -> None:
    name = f"fraud-detector-test-{uuid.uuid4().hex[:8]}"
    for v in ("1", "2"):
        registry.register_model(
            name, f"file:///models/{v}.onnx", version=v, model_format_name="onnx",
            model_format_version="1", metadata={"pr_auc": 0.5},
        )  # fmt: skip
    version = registry.get_model_version(name, "2")
    assert version is not None
    version.custom_properties["champion"] = True
    registry.update(version)

    reread = registry.get_model_version(name, "2")
    assert reread is not None and reread.custom_properties["champion"] is True
    assert sorted(v.name for v in registry.get_model_versions(name)) == ["1", "2"]
