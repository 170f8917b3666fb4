"""Wiring: settings -> registry client, model source, online features, the model and its server."""

from __future__ import annotations

import logging

from batch_pipeline.registry import Registry
from predictor.errors import FeaturesUnavailable
from predictor.features import OnlineFeatures
from predictor.model import FraudDetector
from predictor.registry_client import ThreadedRegistry
from predictor.reload import ModelSource
from predictor.server import PredictorServer
from predictor.settings import PredictorSettings

log = logging.getLogger(__name__)


def open_features(settings: PredictorSettings) -> tuple[OnlineFeatures | None, str]:
    """The Feast reader, or None and why (then v1 answers 503 and v2 still scores)."""
    if settings.feature_data is None:
        return None, "started without --feature-data"
    try:
        features = OnlineFeatures.open(
            settings.feature_data,
            settings.redis_connection,
            settings.feast_project,
            ttl_s=settings.feature_cache_ttl_s,
            size=settings.feature_cache_size,
            attempts=settings.feast_attempts,
        )
    except FeaturesUnavailable as exc:
        log.warning("online features unavailable, v1 will answer 503: %s", exc)
        return None, str(exc)
    log.info(
        "online features data=%s project=%s redis=%s",
        settings.feature_data, settings.feast_project, settings.redis_connection,
    )  # fmt: skip
    return features, ""


def build(settings: PredictorSettings) -> tuple[PredictorServer, FraudDetector]:
    """Everything the process serves, with the starting model loaded if there is one.

    Raises:
        ModelRefused: a pinned model cannot serve.
        RegistryError: the registry is unreachable or lacks a pinned version.
    """
    registry: Registry | None = None
    if settings.model_uri is None:
        registry = ThreadedRegistry(settings.registry_url, settings.registered_model)
    features, problem = open_features(settings)
    model = FraudDetector(settings, ModelSource(settings, registry), features, problem)
    if not model.load():
        log.warning(
            "no champion can serve yet for registered model %s; answering 503 until one is "
            "promoted (polling every %.1fs)",
            settings.registered_model, settings.reload_interval_s,
        )  # fmt: skip
    server = PredictorServer(settings)
    return server, model
