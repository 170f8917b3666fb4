"""Feast feature views: the user profile (daily batch) and the user's latest activity (pushed)."""

from __future__ import annotations

from feast import Entity, FeatureView, Field, FileSource, PushSource
from feast.types import Float64

from feature_repo.spec import ACTIVITY_TTL, EVENT_FEATURES, PROFILE_STORED, PROFILE_TTL

PROFILE_VIEW = "user_profile"
ACTIVITY_VIEW = "user_activity"
# The activity view holds the features of the user's latest transaction that need no profile
# (EVENT_FEATURES), and its location, from which the profile-derived ones can be computed.
ACTIVITY_EXTRA = ("latitude", "longitude")
ACTIVITY_COLUMNS = (*EVENT_FEATURES, *ACTIVITY_EXTRA)


def profile_view(user: Entity, source: FileSource) -> FeatureView:
    return FeatureView(
        name=PROFILE_VIEW,
        entities=[user],
        ttl=PROFILE_TTL,
        schema=[Field(name=n, dtype=Float64) for n in PROFILE_STORED],
        source=source,
        online=True,
        tags={"group": "profile", "cadence": "daily"},
    )


def activity_view(user: Entity, source: PushSource) -> FeatureView:
    return FeatureView(
        name=ACTIVITY_VIEW,
        entities=[user],
        ttl=ACTIVITY_TTL,
        schema=[Field(name=n, dtype=Float64) for n in ACTIVITY_COLUMNS],
        source=source,
        online=True,
        tags={"group": "activity", "cadence": "streaming"},
    )
