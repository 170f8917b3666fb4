"""Kubeflow Model Registry REST server, built with Go from the module proxy, on PostgreSQL.

`deploy/local/registry` is a Go module that pins the server (github.com/kubeflow/model-registry
v0.3.10, which names itself github.com/kubeflow/hub) and its published sub-modules. The build
downloads that module, copies its `cmd` package into a scratch folder next to our `main.go`
(leaving out the catalog sub-command, whose module the proxy does not publish), and builds one
binary into the cache folder outside the clone, keyed by the hash of go.mod and go.sum.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import httpx

from deploy.stack.errors import ServiceFailed
from deploy.stack.postgres import PostgresService
from deploy.stack.service import Service, require
from deploy.stack.settings import LOCAL_DIR

log = logging.getLogger(__name__)

BUILD_MODULE = LOCAL_DIR / "registry"
UPSTREAM = "github.com/kubeflow/model-registry"
UPSTREAM_VERSION = "v0.3.10"
# The server's own commands; catalog.go is left out (see the module docstring).
CMD_FILES = ("root.go", "config.go", "proxy.go")
GO_HINT = "install Go >= 1.24 (it is preinstalled on the project's machines at /usr/local/go)"
REST_BASE = "/api/model_registry/v1alpha3"


def _go() -> str:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).exists():
            return candidate
    return require("go", GO_HINT)


def _run_go(args: list[str], cwd: Path) -> str:
    result = subprocess.run(  # noqa: S603
        [_go(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    )
    if result.returncode != 0:
        raise ServiceFailed("registry", f"`go {' '.join(args)}` failed", result.stderr[-4000:])
    return result.stdout


def build_server(cache_dir: Path) -> Path:
    """Build the registry server once per pinned version; return the binary's path."""
    digest = hashlib.sha256(
        (BUILD_MODULE / "go.mod").read_bytes() + (BUILD_MODULE / "go.sum").read_bytes()
    ).hexdigest()[:12]
    binary = cache_dir / "bin" / f"model-registry-{UPSTREAM_VERSION}-{digest}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="model-registry-build-") as tmp:
        work = Path(tmp)
        for name in ("go.mod", "go.sum", "main.go"):
            shutil.copy(BUILD_MODULE / name, work / name)
        info = json.loads(
            _run_go(["mod", "download", "-json", f"{UPSTREAM}@{UPSTREAM_VERSION}"], work)
        )
        (work / "cmd").mkdir()
        for name in CMD_FILES:
            shutil.copy(Path(info["Dir"]) / "cmd" / name, work / "cmd" / name)
        log.info("building model registry %s into %s", UPSTREAM_VERSION, binary)
        _run_go(["build", "-trimpath", "-o", str(binary), "."], work)
    return binary


class RegistryService(Service):
    name = "registry"

    def ports(self) -> Mapping[str, int]:
        return {"FRAUD_REGISTRY_PORT": self.settings.registry_port}

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        build_server(self.settings.cache_dir)

    def argv(self) -> list[str]:
        return [
            str(build_server(self.settings.cache_dir)),
            "proxy",
            "--hostname", self.settings.host,
            "--port", str(self.settings.registry_port),
            "--datastore-type", "embedmd",
            "--embedmd-database-type", "postgres",
            "--embedmd-database-dsn", PostgresService(self.settings).dsn,
        ]  # fmt: skip

    def healthy(self) -> bool:
        # Ready means connected to its database with migrations applied.
        try:
            response = httpx.get(f"{self.settings.registry_url}/readyz/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def detail(self) -> str:
        return f"{UPSTREAM_VERSION} {REST_BASE}"
