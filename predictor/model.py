"""`FraudDetector`: the KServe model serving the ONNX champion on the v1 and v2 protocols.

`load()` sets `ready` only when a model can score. Each request takes the current `LoadedModel`
once and uses it to the end, so a hot swap (one reference assignment from the reload thread)
never mixes two versions in one response, and in-flight requests finish on the old session.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput, ModelNotReady

from feature_repo.spec import FEATURE_NAMES
from predictor.artifact import INPUT_NAME, OUTPUT_NAME, REASONS_OUTPUT
from predictor.assembly import Assembled, event_vectors, latest_vector
from predictor.errors import (
    FeaturesUnavailable,
    InvalidRequest,
    ModelUnavailable,
    PredictorError,
    UnknownUser,
)
from predictor.explain import Reason
from predictor.features import OnlineFeatures
from predictor.metrics import FLAGGED, MODEL_INFO, REFUSED, ROWS, SCORE
from predictor.parsing import EventsRequest, TensorRequest, UserRequest, parse_v1, parse_v2
from predictor.reload import ChampionWatcher, ModelSource
from predictor.scorer import LoadedModel, Matrix
from predictor.settings import MODEL_NAME, PredictorSettings

log = logging.getLogger(__name__)

DECISION_OUTPUT = "decision"


class FraudDetector(Model):  # type: ignore[misc]  # kserve ships no type information
    """Scores card transactions with the registry's champion (or a pinned version or file)."""

    def __init__(
        self,
        settings: PredictorSettings,
        source: ModelSource,
        features: OnlineFeatures | None,
        features_problem: str = "",
    ) -> None:
        super().__init__(MODEL_NAME)
        self.settings = settings
        self.source = source
        self.features = features
        self.features_problem = features_problem
        self.active: LoadedModel | None = None
        self.watcher: ChampionWatcher | None = None

    def load(self) -> bool:
        """Load the starting model; `ready` only if one can score (the watcher may add it later)."""
        if self.active is None:
            model = self.source.initial()
            if model is not None:
                self.swap(model)
        self.ready = self.active is not None
        return bool(self.ready)

    def start(self) -> None:
        """Follow the champion from a background thread, when nothing is pinned."""
        if self.settings.hot_reload and self.watcher is None:
            self.watcher = ChampionWatcher(
                self.source,
                lambda: self.active.version if self.active else None,
                self.swap,
                self.settings.reload_interval_s,
            )
            self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.ready = False

    def swap(self, model: LoadedModel) -> None:
        """Serve `model` from now on; requests holding the previous one finish with it."""
        previous, self.active = self.active, model
        self.ready = True
        if previous is not None:
            MODEL_INFO.labels(*_info_labels(previous)).set(0)
        MODEL_INFO.labels(*_info_labels(model)).set(1)
        log.info(
            "serving model=%s version=%s previous=%s source=%s",
            self.name, model.version, previous.version if previous else None, model.source,
        )  # fmt: skip

    def get_input_types(self) -> list[dict[str, Any]]:
        return [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, len(FEATURE_NAMES)]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [
            {"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1]},
            {"name": DECISION_OUTPUT, "datatype": "BOOL", "shape": [-1]},
            {"name": REASONS_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        ]

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        """v2 `InferRequest` -> scores; a v1 body -> scored users or transactions with reasons."""
        try:
            model = self.active
            if model is None:
                raise ModelUnavailable("no model version is loaded yet")
            if isinstance(payload, InferRequest):
                return self._infer(model, parse_v2(payload, self.settings.max_batch_rows), payload)
            return await self._predict_v1(model, parse_v1(payload, self.settings.max_instances))
        except UnknownUser as exc:
            REFUSED.labels(exc.reason).inc()
            raise  # answered 404 by the server's handler
        except InvalidRequest as exc:
            REFUSED.labels(exc.reason).inc()
            log.info("request refused reason=%s detail=%s", exc.reason, exc.message)
            raise InvalidInput(exc.message) from exc
        except (ModelUnavailable, FeaturesUnavailable) as exc:
            REFUSED.labels(
                "model_unavailable" if isinstance(exc, ModelUnavailable) else "features_unavailable"
            ).inc()
            raise ModelNotReady(self.name, str(exc)) from exc

    def _infer(
        self, model: LoadedModel, req: TensorRequest, payload: InferRequest
    ) -> InferResponse:
        scores = model.score(req.features)
        self._observe(model, scores, "v2")
        decided = scores >= model.threshold
        outputs = [
            InferOutput(OUTPUT_NAME, list(scores.shape), "FP32", data=scores),
            InferOutput(DECISION_OUTPUT, list(scores.shape), "BOOL", data=decided),
        ]
        if req.explain != "none":
            rows = np.arange(len(scores)) if req.explain == "all" else np.flatnonzero(decided)
            explained = model.reasons(req.features[rows], scores[rows], self.settings.reasons_top)
            reasons: list[list[Reason]] = [[] for _ in range(len(scores))]
            for i, why in zip(rows.tolist(), explained, strict=True):
                reasons[i] = why
            encoded = np.array(
                [orjson.dumps([r.to_dict() for r in row]) for row in reasons], dtype=np.object_
            )
            outputs.append(InferOutput(REASONS_OUTPUT, list(scores.shape), "BYTES", data=encoded))
        return InferResponse(
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            model_version=model.version,
            infer_outputs=outputs,
            parameters={"threshold": model.threshold},
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )

    async def _predict_v1(
        self, model: LoadedModel, req: UserRequest | EventsRequest
    ) -> dict[str, Any]:
        if self.features is None:
            raise FeaturesUnavailable(
                f"online features are not configured: {self.features_problem}"
            )
        ttl = self.features.profile_ttl_s
        if isinstance(req, UserRequest):
            rows = await self.features.lookup([req.user_id])
            assembled = [
                latest_vector(rows[req.user_id], time.time(), ttl, self.features.activity_ttl_s)
            ]
            ids = [{"user_id": req.user_id}]
            protocol = "v1_user"
        else:
            arrived_us = time.time_ns() // 1000  # before the lookup: the request's arrival
            rows = await self.features.lookup([e.user_id for e in req.events])
            assembled = event_vectors(req.events, rows, ttl, arrived_us=arrived_us)
            ids = [{"transaction_id": e.transaction_id, "user_id": e.user_id} for e in req.events]
            protocol = "v1_instances"
        matrix: Matrix = np.array(
            [[a.values[n] for n in FEATURE_NAMES] for a in assembled], dtype=np.float32
        )
        scores = model.score(matrix)
        self._observe(model, scores, protocol)
        reasons = model.reasons(matrix, scores, self.settings.reasons_top)
        predictions = [
            {**key, **_result(model, float(score), a), "reasons": [r.to_dict() for r in why]}
            for key, score, a, why in zip(ids, scores, assembled, reasons, strict=True)
        ]
        return {
            "model_name": self.name,
            "model_version": model.version,
            "threshold": model.threshold,
            "predictions": predictions,
        }

    @staticmethod
    def _observe(model: LoadedModel, scores: np.ndarray[Any, Any], protocol: str) -> None:
        ROWS.labels(protocol).inc(len(scores))
        SCORE.observe_many(model.version, scores)
        FLAGGED.labels(model.version).inc(int((scores >= model.threshold).sum()))


def _info_labels(model: LoadedModel) -> tuple[str, str, str]:
    return model.version, model.metadata.feature_spec_hash, str(model.threshold)


def _result(model: LoadedModel, score: float, assembled: Assembled) -> dict[str, Any]:
    return {
        "score": round(score, 6),
        "decision": "alert" if score >= model.threshold else "pass",
        "threshold": model.threshold,
        "model_version": model.version,
        "event_time": datetime.fromtimestamp(assembled.event_time_s, UTC).isoformat(),
        "profile_found": assembled.profile_found,
        "activity_found": assembled.activity_found,
    }


__all__ = ["FraudDetector", "PredictorError"]
