"""The Feast repository against real Redis: apply, materialize, push, online reads, and the
point-in-time rule of historical retrieval."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore
from typer.testing import CliRunner

from batch_pipeline.data.training_set import build_training_set
from deploy.stack import StackSettings
from feature_repo.cli import app as features_cli
from feature_repo.data_sources import PUSH_SOURCE
from feature_repo.feature_views import ACTIVITY_COLUMNS, ACTIVITY_VIEW, PROFILE_VIEW
from feature_repo.spec import FEATURE_NAMES, PROFILE_STORED
from feature_repo.store import apply_definitions, open_store
from tests.integration.conftest import PreparedWorld

pytestmark = [pytest.mark.spark, pytest.mark.redis, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2] / "feature_repo"


def _connection(settings: StackSettings) -> str:
    return settings.feast_redis


@pytest.fixture
def store(
    prepared_world: PreparedWorld, redis_url: str, stack_settings: StackSettings, tmp_path: Path
) -> FeatureStore:
    data = tmp_path / "data"
    shutil.copytree(prepared_world.out, data)
    store = open_store(data, _connection(stack_settings), project=f"t{uuid.uuid4().hex[:8]}")
    apply_definitions(store, data)
    return store


def test_apply_materialize_push_and_read_online(
    store: FeatureStore, prepared_world: PreparedWorld
) -> None:
    assert {fv.name for fv in store.list_feature_views()} == {PROFILE_VIEW, ACTIVITY_VIEW}
    profile = pd.read_parquet(prepared_world.out / "user_profile")
    end = profile["event_timestamp"].max() + timedelta(seconds=1)
    store.materialize(end - timedelta(days=60), end.to_pydatetime(), feature_views=[PROFILE_VIEW])

    latest = profile.sort_values("event_timestamp").groupby("user_id").tail(1).set_index("user_id")
    users = list(latest.index[:5])
    online = store.get_online_features(
        features=[f"{PROFILE_VIEW}:{n}" for n in PROFILE_STORED],
        entity_rows=[{"user_id": u} for u in [*users, "no-such-user"]],
    ).to_df()
    for name in PROFILE_STORED:
        np.testing.assert_allclose(online[name][:5], latest.loc[users, name], err_msg=name)
    assert online.iloc[5][list(PROFILE_STORED)].isna().all()

    pushed = {n: float(i + 1) for i, n in enumerate(ACTIVITY_COLUMNS)}
    row = pd.DataFrame([{"user_id": users[0], "event_timestamp": end, **pushed}])
    store.push(PUSH_SOURCE, row)
    fresh = store.get_online_features(
        features=[f"{ACTIVITY_VIEW}:{n}" for n in pushed], entity_rows=[{"user_id": users[0]}]
    ).to_dict()
    assert {n: fresh[n][0] for n in pushed} == pushed


def test_materialize_command_loads_the_newest_profiles_however_old(
    prepared_world: PreparedWorld, redis_url: str, stack_settings: StackSettings, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(prepared_world.out, data)
    profile = pd.read_parquet(data / "user_profile")
    newest = profile["event_timestamp"].max()
    assert newest < pd.Timestamp.now(tz="UTC") - timedelta(days=2)  # older than --days 1 reaches
    project = f"m{uuid.uuid4().hex[:8]}"

    result = CliRunner().invoke(
        features_cli, ["materialize", "--data", str(data), "--days", "1", "--project", project]
    )

    assert result.exit_code == 0, result.output
    latest = profile[profile["event_timestamp"] == newest].set_index("user_id")
    users = list(latest.index[:20])
    online = (
        open_store(data, _connection(stack_settings), project=project)
        .get_online_features(
            features=[f"{PROFILE_VIEW}:{n}" for n in PROFILE_STORED],
            entity_rows=[{"user_id": u} for u in users],
        )
        .to_df()
    )
    for name in PROFILE_STORED:
        np.testing.assert_allclose(online[name], latest.loc[users, name], err_msg=name)
    assert f"profiles of {len(latest):,} users" in result.output


def test_training_set_joins_profiles_point_in_time(
    store: FeatureStore, prepared_world: PreparedWorld
) -> None:
    training = build_training_set(store, prepared_world.out)
    features = pd.read_parquet(prepared_world.out / "transaction_features")
    assert len(training) == len(features)
    assert list(training.columns[3 : 3 + len(FEATURE_NAMES)]) == list(FEATURE_NAMES)
    assert np.isfinite(training[list(FEATURE_NAMES)].to_numpy(float)).all()
    assert training["event_timestamp"].is_monotonic_increasing
    assert set(training["is_fraud"].unique()) == {0, 1}

    # The profile used for each transaction is the latest snapshot available at its time.
    profile = pd.read_parquet(prepared_world.out / "user_profile").sort_values("event_timestamp")
    sample = training.sample(n=300, random_state=5).sort_values("event_timestamp")
    expected = pd.merge_asof(
        sample, profile[["user_id", "event_timestamp", "amount_median_90d", "tx_count_90d"]],
        on="event_timestamp", by="user_id", suffixes=("", "_expected"),
        tolerance=pd.Timedelta(days=2), allow_exact_matches=True,
    )  # fmt: skip
    has = expected["amount_median_90d_expected"].notna()
    assert (expected["has_profile"] == has.astype(float)).all()
    np.testing.assert_allclose(
        expected.loc[has, "amount_median_90d"], expected.loc[has, "amount_median_90d_expected"]
    )
    np.testing.assert_allclose(
        expected.loc[has, "tx_count_90d"], expected.loc[has, "tx_count_90d_expected"]
    )
    assert (~has).sum() > 0 and has.sum() > 200


def test_labels_never_reach_the_features(store: FeatureStore) -> None:
    assert store.config.repo_path is not None
    data = Path(store.config.repo_path)
    features = pd.read_parquet(data / "transaction_features")
    assert not {"is_fraud", "fraud_pattern", "label_available_at"} & set(features.columns)
    training = build_training_set(store, data)

    flipped = pd.read_parquet(data / "labels").assign(is_fraud=lambda f: ~f["is_fraud"])
    shutil.rmtree(data / "labels")
    (data / "labels").mkdir()
    flipped.to_parquet(data / "labels" / "part-0.parquet")
    relabelled = build_training_set(store, data)

    pd.testing.assert_frame_equal(training[list(FEATURE_NAMES)], relabelled[list(FEATURE_NAMES)])
    assert (training["is_fraud"] != relabelled["is_fraud"]).all()


def test_feast_cli_applies_and_materializes_inside_the_folder(
    prepared_world: PreparedWorld, redis_url: str, stack_settings: StackSettings, tmp_path: Path
) -> None:
    repo = tmp_path / "feature_repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    shutil.copytree(prepared_world.out, repo / "data")
    project = f"cli{uuid.uuid4().hex[:8]}"
    yaml = repo / "feature_store.yaml"
    yaml.write_text(yaml.read_text().replace("project: fraud_scorer", f"project: {project}"))
    env = {**os.environ, "FRAUD_REDIS_CONNECTION": _connection(stack_settings)}
    feast = [sys.executable, "-m", "feast.cli.cli"]
    applied = subprocess.run([*feast, "apply"], cwd=repo, env=env, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    assert PROFILE_VIEW in applied.stdout
    end = pd.read_parquet(repo / "data" / "user_profile")["event_timestamp"].max()
    materialized = subprocess.run(
        [*feast, "materialize", (end - timedelta(days=3)).isoformat(), end.isoformat()],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert materialized.returncode == 0, materialized.stderr
    listed = subprocess.run(
        [*feast, "feature-views", "list"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert ACTIVITY_VIEW in listed.stdout and PROFILE_VIEW in listed.stdout
