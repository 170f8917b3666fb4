"""`fraud stack` as a user runs it: idempotent up, status, and failures that say what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack import NAMES

runner = CliRunner()


@pytest.mark.kafka
@pytest.mark.redis
@pytest.mark.registry
def test_up_twice_is_harmless_and_status_is_healthy(services: object) -> None:
    services.ensure(*NAMES)  # type: ignore[attr-defined]
    result = runner.invoke(app, ["stack", "up"])
    assert result.exit_code == 0, result.output
    assert result.output.count("already running") == len(NAMES)

    status = runner.invoke(app, ["stack", "status"])
    assert status.exit_code == 0, status.output
    assert status.output.count("healthy") == len(NAMES)


def test_taken_port_fails_with_the_setting_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("FRAUD_STACK_DIR", str(tmp_path))
        monkeypatch.setenv("FRAUD_REDIS_PORT", str(port))
        result = runner.invoke(app, ["stack", "up", "redis"])
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert f"port {port}" in flat
    assert "FRAUD_REDIS_PORT" in flat


@pytest.mark.slow
def test_service_that_fails_its_start_prints_its_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUD_KAFKA_PORT", "29192")
    monkeypatch.setenv("FRAUD_KAFKA_CONTROLLER_PORT", "29193")
    monkeypatch.setenv("FRAUD_KAFKA_HEAP", "1k")  # the JVM refuses to start with this heap
    result = runner.invoke(app, ["stack", "up", "kafka"])
    assert result.exit_code == 1
    assert "last lines of its log" in result.output
    assert "heap" in result.output.lower()
