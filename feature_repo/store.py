"""Open the Feast store from code: the same definitions as the `feast` CLI, data anywhere."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureStore, RepoConfig

from feature_repo.definitions import Definitions, definitions

PROJECT = "fraud_scorer"


def open_store(data_dir: Path, redis_connection: str, project: str = PROJECT) -> FeatureStore:
    """A store whose batch data (the Spark job's output) and registry live in `data_dir`.

    Args:
        data_dir: The `--out` folder of `fraud data prepare`.
        redis_connection: Feast's Redis connection string, e.g. `127.0.0.1:16379,db=0`.
        project: The Feast project; tests use their own to stay apart in one Redis.
    """
    config = RepoConfig(
        project=project,
        provider="local",
        registry=str(data_dir / "registry.db"),
        online_store={"type": "redis", "connection_string": redis_connection},
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=data_dir,
    )
    return FeatureStore(config=config)


def apply_definitions(store: FeatureStore, data_dir: Path) -> Definitions:
    """Register the repository's objects, reading batch data from `data_dir`."""
    defs = definitions(str(data_dir.resolve()))
    store.apply(defs.objects())
    return defs
