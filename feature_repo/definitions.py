"""All Feast objects of the repository, built from the modules of each kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feast import Entity, FeatureService, FeatureView, FileSource, PushSource

from feature_repo.data_sources import activity_push, profile_source
from feature_repo.entities import user_entity
from feature_repo.feature_services import model_service
from feature_repo.feature_views import activity_view, profile_view


@dataclass(frozen=True)
class Definitions:
    user: Entity
    profile_source: FileSource
    activity_push: PushSource
    profile: FeatureView
    activity: FeatureView
    service: FeatureService

    def objects(self) -> list[Any]:
        return [
            self.user, self.profile_source, self.activity_push, self.profile, self.activity,
            self.service,
        ]  # fmt: skip


def definitions(data_root: str) -> Definitions:
    """The repository's objects with their batch data under `data_root`."""
    user = user_entity()
    profile_src = profile_source(data_root)
    push = activity_push(data_root)
    profile = profile_view(user, profile_src)
    activity = activity_view(user, push)
    return Definitions(user, profile_src, push, profile, activity, model_service(profile, activity))
