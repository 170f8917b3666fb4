"""The design the predictor replaces, re-created: one user, one Feast call, one row per request.

The seed project's KServe model answered `{"user_id": ...}` by calling Feast's synchronous
`get_online_features` for that one user and running onnxruntime on that one row, inside a plain
`def predict`. This does the same (with this project's feature views and vector formula, so both
servers compute the same numbers), served by the same KServe stack bound to loopback.

Run: `python -m bench.seed_predictor --model M.onnx --feature-data DIR --project P --http-port N`.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from kserve import Model

from feature_repo.feature_views import ACTIVITY_COLUMNS
from feature_repo.spec import FEATURE_NAMES, PROFILE_STORED
from feature_repo.store import open_store
from predictor.assembly import latest_vector
from predictor.features import FEATURE_REFS, OnlineRow
from predictor.server import PredictorServer
from predictor.settings import MODEL_NAME, PredictorSettings


class SeedFraudModel(Model):  # type: ignore[misc]  # kserve ships no type information
    """Feast lookup and scoring of one user per request, synchronously."""

    def __init__(self, model: Path, data: Path, project: str, redis: str) -> None:
        super().__init__(MODEL_NAME)
        self.model_path, self.data, self.project, self.redis = model, data, project, redis

    def load(self) -> bool:
        self.store = open_store(self.data, self.redis, self.project)
        self.session = ort.InferenceSession(
            str(self.model_path), providers=["CPUExecutionProvider"]
        )
        self.ready = True
        return True

    def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        user = payload["user_id"]
        response = self.store.get_online_features(
            features=FEATURE_REFS, entity_rows=[{"user_id": user}]
        ).to_dict(include_event_timestamps=True)
        values = latest_vector(row_of(user, response), time.time()).values
        matrix = np.array([[values[n] for n in FEATURE_NAMES]], dtype=np.float32)
        score = self.session.run(None, {"features": matrix})[0]
        return {"predictions": [float(score[0])]}


def row_of(user: str, data: dict[str, list[Any]]) -> OnlineRow:
    """One user's `OnlineRow` from `get_online_features(...).to_dict(include_event_timestamps)`."""
    profile = {n: data[n][0] for n in PROFILE_STORED}
    activity = {n: data[n][0] for n in ACTIVITY_COLUMNS}
    has_profile = all(v is not None for v in profile.values())
    has_activity = all(v is not None for v in activity.values())
    return OnlineRow(
        user,
        profile if has_profile else None,
        float(data[PROFILE_STORED[0] + "__ts"][0]) if has_profile else None,
        activity if has_activity else None,
        float(data[ACTIVITY_COLUMNS[0] + "__ts"][0]) if has_activity else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--feature-data", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--redis-connection", default="127.0.0.1:16379,db=0")
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = SeedFraudModel(args.model, args.feature_data, args.project, args.redis_connection)
    model.load()
    PredictorServer(PredictorSettings(http_port=args.http_port, feature_data=None)).serve(model)


if __name__ == "__main__":
    main()
