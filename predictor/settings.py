"""Settings of the predictor: every field is `FRAUD_PREDICTOR_<NAME>` in the environment.

`main()` builds one `PredictorSettings` from the environment and the command line (the command
line wins) and passes it down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_NAME = "fraud-detector"  # the name on the endpoints: /v1/models/fraud-detector:predict


class PredictorSettings(BaseSettings):
    """How the predictor finds its model and features, and how it serves them."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUD_PREDICTOR_", frozen=True, extra="forbid", protected_namespaces=()
    )

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to (loopback).")
    http_port: int = Field(18081, ge=1, le=65535, description="HTTP port of both protocols.")

    registry_url: str = Field(
        "http://127.0.0.1:18080", description="Kubeflow Model Registry REST address."
    )
    registered_model: str = Field(
        MODEL_NAME, min_length=1, description="Registered model whose champion is served."
    )
    model_version: str | None = Field(
        None, description="Serve this registry version, pinned (no hot reload)."
    )
    model_uri: str | None = Field(
        None, description="Serve this ONNX file (path or file:// URI), no registry, no reload."
    )
    reload_interval_s: float = Field(
        10.0, ge=0, description="How often the champion is polled; 0 turns hot reload off."
    )

    feature_data: Path | None = Field(
        Path("feature_repo/data"),
        description="The Feast data folder (registry.db); without it only v2 can score.",
    )
    redis_connection: str = Field(
        "127.0.0.1:16379,db=0", description="Feast's Redis connection string."
    )
    feast_project: str = Field("fraud_scorer", min_length=1)
    feature_cache_ttl_s: float = Field(
        1.0, ge=0, description="How long one user's online features are reused; 0: no cache."
    )
    feature_cache_size: int = Field(50_000, ge=1, description="Users kept in that cache.")
    feast_attempts: int = Field(3, ge=1, description="Tries of an online read before a 503.")

    max_instances: int = Field(256, ge=1, description="Most events in one v1 request.")
    max_batch_rows: int = Field(4096, ge=1, description="Most rows in one v2 tensor.")
    max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest request body; a larger one is answered 413 without being read.",
    )
    reasons_top: int = Field(3, ge=1, description="Reasons reported per scored row.")
    onnx_threads: int = Field(1, ge=1, description="onnxruntime intra-op threads per session.")

    access_log: bool = Field(False, description="One log line per HTTP request (uvicorn).")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not (value.startswith("127.") or value in {"localhost", "::1"}):
            raise ValueError(
                f"host {value!r}: the predictor binds to loopback only here; in a cluster the "
                "InferenceService's own networking exposes it"
            )
        return value

    @model_validator(mode="after")
    def _one_model_source(self) -> Self:
        if self.model_uri and self.model_version:
            raise ValueError(
                "give either model_uri (a file) or model_version (from the registry), not both"
            )
        return self

    @property
    def hot_reload(self) -> bool:
        """Whether the champion is followed: only when no version or file is pinned."""
        return self.model_uri is None and self.model_version is None and self.reload_interval_s > 0
