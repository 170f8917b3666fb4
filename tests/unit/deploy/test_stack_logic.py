"""The stack's own logic, without any service: settings, port checks, process handling, config."""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from deploy.stack import PortInUse, ServiceFailed, Stack, StackSettings
from deploy.stack.kafka import new_cluster_id
from deploy.stack.process import ManagedProcess
from deploy.stack.prometheus import PrometheusService


def test_settings_come_from_fraud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_KAFKA_PORT", "29092")
    monkeypatch.setenv("FRAUD_TRANSACTIONS_PARTITIONS", "6")
    settings = StackSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.topics["transactions"] == 6
    assert set(settings.topics) == {
        "transactions", "transaction-scores", "fraud-alerts", "transactions-dlq", "fraud-labels"
    }  # fmt: skip


def test_settings_refuse_non_loopback_host() -> None:
    with pytest.raises(ValidationError, match="loopback only"):
        StackSettings(host="0.0.0.0")  # noqa: S104 - the point of the test


def test_taken_port_names_the_setting_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(StackSettings(stack_dir=tmp_path, redis_port=port))
        with pytest.raises(PortInUse) as info:
            stack.services["redis"].up()
    assert f"port {port}" in str(info.value)
    assert "FRAUD_REDIS_PORT" in str(info.value)


def test_process_that_dies_at_start_reports_its_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess("broken", tmp_path)
    proc.start(["sh", "-c", "echo 'config error: no such file'; exit 3"])
    with pytest.raises(ServiceFailed) as info:
        proc.wait_healthy(lambda: False, timeout_s=10)
    assert "config error: no such file" in str(info.value)
    assert "exited during start-up" in str(info.value)


def test_stop_kills_by_recorded_pid_and_only_that(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    proc = ManagedProcess("sleeper", tmp_path)
    pid = proc.start(["sleep", "60"])
    assert proc.pid() == pid
    assert proc.stop(timeout_s=5) is True
    assert proc.pid() is None
    assert proc.stop() is False  # stopping twice is harmless
    assert bystander.poll() is None
    bystander.kill()
    bystander.wait()


def test_unhealthy_within_timeout_is_a_failure(tmp_path: Path) -> None:
    proc = ManagedProcess("slow", tmp_path)
    proc.start(["sleep", "30"])
    with pytest.raises(ServiceFailed, match="not healthy after"):
        proc.wait_healthy(lambda: False, timeout_s=1)
    proc.stop(timeout_s=5)


def test_prometheus_config_scrapes_project_ports_and_passes_promtool(tmp_path: Path) -> None:
    settings = StackSettings(stack_dir=tmp_path, predictor_port=28081, worker_web_port=26066)
    service = PrometheusService(settings)
    service.prepare()  # runs promtool check config; raises if promtool rejects it
    text = (tmp_path / "prometheus" / "prometheus.yml").read_text()
    assert "127.0.0.1:28081" in text
    assert "127.0.0.1:26066" in text


def test_unknown_service_name_is_refused() -> None:
    with pytest.raises(ValueError, match="choose from"):
        Stack(StackSettings()).select(["zookeeper"])


def test_registry_brings_its_database() -> None:
    names = [s.name for s in Stack(StackSettings()).select(["registry"])]
    assert names == ["postgres", "registry"]


def test_a_kafka_cluster_id_never_starts_with_a_dash() -> None:
    """The storage tool reads `-t -x...` as a missing id: such an id is drawn again."""
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=bytes(range(16)))])
    cid = new_cluster_id(lambda: next(draws))
    assert cid == "AAECAwQFBgcICQoLDA0ODw" and len(cid) == 22
    assert new_cluster_id(lambda: uuid.UUID(bytes=bytes(range(16)))) == cid
