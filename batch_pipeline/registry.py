"""The Kubeflow Model Registry as this project uses it, through the official Python client.

One registered model (`fraud-detector` by default) gets one version per training run, named
1, 2, 3…, with its ONNX artifact URI, format `onnx`, and flat metadata (metrics, training window,
row counts, feature-spec hash, pipeline run id, gate decision). Which version is the champion is
one property of the registered model, `champion_version`, so there is exactly one at any time;
each version also carries its own `stage` (champion, challenger, retired) for people reading it.
Serving (`predictor`) reads the champion from here too; this module imports nothing heavy.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from model_registry import ModelRegistry

log = logging.getLogger(__name__)

MODEL_NAME = "fraud-detector"
CHAMPION_KEY = "champion_version"
Scalar = str | int | float | bool


class RegistryError(RuntimeError):
    """The registry refused an operation or does not hold what was asked for."""


@dataclass(frozen=True)
class VersionInfo:
    name: str
    uri: str
    metadata: dict[str, Any]
    created_ms: int

    @property
    def stage(self) -> str:
        return str(self.metadata.get("stage", "challenger"))


class Registry:
    """Versions and the champion of one registered model."""

    def __init__(
        self,
        url: str,
        model_name: str = MODEL_NAME,
        author: str = "fraud-scorer",
        async_runner: Callable[..., Any] | None = None,
    ) -> None:
        # `async_runner` runs the client's coroutines. Without one the client patches asyncio
        # for the whole process (nest_asyncio) and runs them on the thread's current event
        # loop, creating one that nobody closes (a ResourceWarning whenever it is collected).
        # Here each call gets a loop of its own (`asyncio.run`; the client opens and closes its
        # HTTP session per call); a server with a running loop passes a runner of its own
        # (`predictor/registry_client.py`).
        parts = urlsplit(url)
        if not parts.hostname or not parts.port:
            raise RegistryError(f"registry URL {url!r} must look like http://127.0.0.1:18080")
        self.model_name = model_name
        with warnings.catch_warnings():
            # The local registry runs without authentication; the client warns about its token.
            warnings.filterwarnings("ignore", "User access token is missing")
            self.client = ModelRegistry(
                f"{parts.scheme}://{parts.hostname}",
                parts.port,
                author=author,
                is_secure=parts.scheme == "https",
                async_runner=async_runner or asyncio.run,
            )

    def versions(self) -> list[VersionInfo]:
        if self.client.get_registered_model(self.model_name) is None:
            return []
        found = [self._info(v.name) for v in self.client.get_model_versions(self.model_name)]
        return sorted(found, key=lambda v: (v.created_ms, v.name))

    def get(self, version: str) -> VersionInfo:
        return self._info(version)

    def next_version(self) -> str:
        numbers = [int(v.name) for v in self.versions() if v.name.isdigit()]
        return str(max(numbers, default=0) + 1)

    def register(
        self, version: str, uri: str, metadata: dict[str, Scalar], description: str = ""
    ) -> VersionInfo:
        self.client.register_model(
            self.model_name,
            uri,
            version=version,
            model_format_name="onnx",
            model_format_version="1",
            version_description=description or None,
            metadata={**metadata, "stage": "challenger", "registered_at": _now()},
        )
        log.info("registered model=%s version=%s uri=%s", self.model_name, version, uri)
        return self._info(version)

    def record(self, version: str, **properties: Scalar) -> VersionInfo:
        """Add or overwrite metadata of a version (e.g. the gate's decision)."""
        mv = self.client.get_model_version(self.model_name, version)
        if mv is None:
            raise RegistryError(f"{self.model_name} has no version {version}")
        mv.custom_properties = {**(mv.custom_properties or {}), **properties}
        self.client.update(mv)
        return self._info(version)

    def champion(self) -> VersionInfo | None:
        rm = self.client.get_registered_model(self.model_name)
        if rm is None:
            return None
        name = (rm.custom_properties or {}).get(CHAMPION_KEY)
        return self._info(str(name)) if name else None

    def promote(self, version: str, reason: str) -> VersionInfo:
        """Make `version` the champion; the previous champion becomes retired."""
        target = self.get(version)
        previous = self.champion()
        rm = self.client.get_registered_model(self.model_name)
        assert rm is not None  # noqa: S101 - get() above proved the model exists
        rm.custom_properties = {**(rm.custom_properties or {}), CHAMPION_KEY: version}
        self.client.update(rm)
        if previous is not None and previous.name != version:
            self.record(previous.name, stage="retired", retired_at=_now())
        self.record(version, stage="champion", promoted_at=_now(), promotion_reason=reason)
        log.info("promoted model=%s version=%s reason=%s", self.model_name, version, reason)
        return self.get(target.name)

    def _info(self, version: str) -> VersionInfo:
        mv = self.client.get_model_version(self.model_name, version)
        artifact = self.client.get_model_artifact(self.model_name, version)
        if mv is None or artifact is None:
            raise RegistryError(f"{self.model_name} has no version {version!r}")
        return VersionInfo(
            name=mv.name,
            uri=str(artifact.uri),
            metadata=dict(mv.custom_properties or {}),
            created_ms=int(mv.create_time_since_epoch or 0),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
