"""Settings of the stream worker, from `FRAUD_STREAM_*` environment variables (or CLI options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """Where the worker reads and writes, and how it batches, retries and degrades.

    Every field is `FRAUD_STREAM_<NAME>` in the environment; built once in `main()`.
    """

    model_config = SettingsConfigDict(env_prefix="FRAUD_STREAM_", frozen=True, extra="forbid")

    app_id: str = Field(
        "fraud-scorer", min_length=1, description="Faust app id: the consumer group and the prefix "
        "of the state's changelog topic.",
    )  # fmt: skip
    kafka_bootstrap: str = Field("127.0.0.1:19092", min_length=1)
    topic_transactions: str = "transactions"
    topic_scores: str = "transaction-scores"
    topic_alerts: str = "fraud-alerts"
    topic_dlq: str = "transactions-dlq"
    partitions: int = Field(
        4, ge=1, description="Partitions of the transactions topic (the state table's as well)."
    )
    session_timeout_s: float = Field(
        10.0, ge=6, le=300, description="How long the consumer group waits for a worker that "
        "stopped without leaving it (killed, or its process frozen) before its partitions go to "
        "the others (Faust's default is 60 s; a graceful stop leaves at once).",
    )  # fmt: skip

    predictor_url: str = Field(
        "http://127.0.0.1:18081", pattern=r"^https?://(\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+)(:\d{1,5})?(/\S*)?$",
        description="The KServe predictor (http://host:port).",
    )  # fmt: skip
    model_name: str = Field("fraud-detector", min_length=1)
    batch_max: int = Field(
        1000, ge=1, le=4096,
        description="Most events scored in one request (the predictor takes up to 4096 rows).",
    )  # fmt: skip
    linger_ms: float = Field(
        5.0, gt=0, le=1000, description="How long a batch waits to fill before it is scored."
    )
    predictor_timeout_s: float = Field(1.0, gt=0, description="Per request, connect to answer.")
    predictor_attempts: int = Field(
        2, ge=1, le=10, description="Tries of one batch before the fallback scores it."
    )
    breaker_failures: int = Field(
        3, ge=1, description="Failed batches in a row that open the circuit breaker."
    )
    breaker_reset_s: float = Field(
        5.0, gt=0, description="How long the breaker stays open before one trial request."
    )

    feature_data: Path | None = Field(
        Path("feature_repo/data"),
        description="The Feast data folder (registry.db); empty: no profiles and no pushes.",
    )
    redis_connection: str = Field("127.0.0.1:16379,db=0", description="Feast's Redis.")
    feast_project: str = Field("fraud_scorer", min_length=1)
    profile_cache_ttl_s: float = Field(
        600.0, ge=0, description="How long a user's profile is reused (profiles change daily)."
    )
    profile_cache_size: int = Field(200_000, ge=1)
    push_interval_s: float = Field(
        0.5, gt=0, description="Seconds between retries of the Feast activity rows that a "
        "failed push left staged (each batch pushes its own rows).",
    )  # fmt: skip

    max_event_bytes: int = Field(
        16_384, ge=256, description="Larger records are dead-lettered as oversized."
    )
    store: str = Field(
        "rocksdb://", pattern=r"^(rocksdb|memory)://$", description="Faust table store."
    )
    data_dir: Path = Field(Path(".stack/stream"), description="Faust's local state (RocksDB).")
    web_host: str = "127.0.0.1"
    web_port: int = Field(16066, ge=1, le=65535, description="/metrics and Faust's web views.")
    replay_margin_s: float = Field(
        60.0, ge=0, description="Producer clock skew allowed for when reading back sent alerts."
    )
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("feature_data", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("web_host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not (value.startswith("127.") or value in {"localhost", "::1"}):
            raise ValueError(f"web_host {value!r}: the worker's web server binds to loopback only")
        return value

    @property
    def linger_s(self) -> float:
        return self.linger_ms / 1000.0
