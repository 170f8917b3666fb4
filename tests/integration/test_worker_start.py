"""`fraud stream worker` looks at the real broker before Faust starts, and says what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from typer.testing import CliRunner

from deploy.cli import app
from tests.conftest import unique
from tests.unit.predictor.harness import free_port

pytestmark = pytest.mark.kafka
runner = CliRunner()


def _worker(tmp_path: Path, **env: str) -> tuple[int, str]:
    variables = {f"FRAUD_STREAM_{k.upper()}": v for k, v in env.items()}
    result = runner.invoke(app, ["stream", "worker", "--data-dir", str(tmp_path)], env=variables)
    return result.exit_code, " ".join(result.output.split())


def _topics(new_topic: Callable[..., str], tx_partitions: int = 4) -> dict[str, str]:
    return {
        "topic_transactions": new_topic("tx", tx_partitions), "topic_scores": new_topic("scores"),
        "topic_alerts": new_topic("alerts"), "topic_dlq": new_topic("dlq"),
    }  # fmt: skip


def test_a_broker_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    code, output = _worker(tmp_path, kafka_bootstrap=address)
    assert code == 1
    assert output.startswith(f"cannot reach Kafka at {address} (FRAUD_STREAM_KAFKA_BOOTSTRAP)")
    assert "Traceback" not in output


def test_missing_topics_are_named_and_not_created(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topics = _topics(new_topic)
    topics["topic_transactions"] = absent_tx = unique("absent-tx")
    topics["topic_dlq"] = absent_dlq = unique("absent-dlq")
    code, output = _worker(tmp_path, kafka_bootstrap=kafka_bootstrap, **topics)
    assert code == 1
    assert f"no topic '{absent_tx}', '{absent_dlq}' at {kafka_bootstrap}" in output
    assert "(FRAUD_STREAM_TOPIC_TRANSACTIONS, FRAUD_STREAM_TOPIC_DLQ)" in output
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="tests")
    try:
        assert not {absent_tx, absent_dlq} & set(admin.list_topics())
    finally:
        admin.close()


def test_a_transactions_topic_of_other_partitions_than_the_state_is_refused(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topics = _topics(new_topic, tx_partitions=2)
    code, output = _worker(tmp_path, kafka_bootstrap=kafka_bootstrap, partitions="4", **topics)
    assert code == 1
    assert f"'{topics['topic_transactions']}' has 2 partitions and the worker is set for 4" in (
        output
    )
    assert "set FRAUD_STREAM_PARTITIONS=2" in output


def test_a_feast_registry_without_the_project_is_one_line(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    data = tmp_path / "features"
    data.mkdir()
    (data / "registry.db").write_bytes(b"")  # a registry with no project in it
    code, output = _worker(
        tmp_path / "state", kafka_bootstrap=kafka_bootstrap, feature_data=str(data),
        feast_project="nowhere", **_topics(new_topic),
    )  # fmt: skip
    assert code == 2, output
    assert f"the Feast registry in {data} lacks project 'nowhere'" in output
    assert f"run `fraud features apply --data {data} --project nowhere`" in output
    assert "Traceback" not in output
