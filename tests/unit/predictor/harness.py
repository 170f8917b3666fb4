"""A real predictor process and a real Feast world, for the integration tests and the benchmark.

No test in this folder uses it (they need no services); it lives beside `onnx_models.py`, the
other helper those callers share.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd

from feature_repo.store import apply_definitions, open_store

ROOT = Path(__file__).resolve().parents[3]
# Importing kserve, Feast and onnxruntime takes tens of seconds on a busy machine.
START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PredictorProcess:
    """`python -m MODULE ARGS --http-port PORT` on a free port, its output in `log_path`."""

    def __init__(self, args: list[str], log_path: Path, module: str = "predictor") -> None:
        self.module = module
        self.port = free_port()
        self.args = [*args, "--http-port", str(self.port)]
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PredictorProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env = {k: v for k, v in env.items() if not k.startswith("FRAUD_PREDICTOR_")}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"predictor exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/v2/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"predictor did not start in {START_TIMEOUT_S}s:\n{self.log()}")

    def stop(self) -> int | None:
        """SIGTERM (uvicorn drains requests), then kill after 20 s; the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, path: str, status: int, timeout_s: float = 30.0) -> httpx.Response:
        """GET `path` until it answers `status`."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = httpx.get(self.url + path, timeout=5)
            if response.status_code == status or time.monotonic() > deadline:
                return response
            time.sleep(0.2)


@dataclass(frozen=True)
class FeastWorld:
    """Prepared features copied to `data`, applied to project `project`, loaded into Redis."""

    data: Path
    project: str
    redis_connection: str
    latest: pd.DataFrame  # per user: the latest transaction's features (Spark's)
    profiles: pd.DataFrame  # per user: the latest profile snapshot

    def server_args(self) -> list[str]:
        return [
            "--feature-data", str(self.data), "--feast-project", self.project,
            "--redis-connection", self.redis_connection,
        ]  # fmt: skip


def feast_world(prepared: Path, workdir: Path, redis_connection: str) -> FeastWorld:
    """Copy the output of `fraud data prepare`, register it under a new project, materialize."""
    data = workdir / f"feast-{uuid.uuid4().hex[:8]}"
    shutil.copytree(prepared, data)
    project = f"p{uuid.uuid4().hex[:10]}"
    store = open_store(data, redis_connection, project=project)
    apply_definitions(store, data)
    profiles = pd.read_parquet(data / "user_profile")
    end = profiles["event_timestamp"].max() + timedelta(seconds=1)
    store.materialize(end - timedelta(days=60), end.to_pydatetime())
    features = pd.read_parquet(data / "transaction_features")
    latest = features.sort_values("event_timestamp").groupby("user_id").tail(1)
    return FeastWorld(
        data,
        project,
        redis_connection,
        latest.set_index("user_id"),
        profiles.sort_values("event_timestamp").groupby("user_id").tail(1).set_index("user_id"),
    )


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)
