"""Feast feature services: the versioned contract between the features and the model."""

from __future__ import annotations

from feast import FeatureService, FeatureView

from feature_repo.spec import SPEC_VERSION, spec_hash

MODEL_SERVICE = f"fraud_model_v{SPEC_VERSION}"


def model_service(profile: FeatureView, activity: FeatureView) -> FeatureService:
    return FeatureService(
        name=MODEL_SERVICE,
        features=[profile, activity],
        tags={"spec_hash": spec_hash()},
        description="What the fraud model reads from Feast; the rest is computed per event.",
    )
