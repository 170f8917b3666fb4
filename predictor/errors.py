"""The predictor's exceptions, and the HTTP answer each one gets.

```
PredictorError
├── InvalidRequest          400  the client's mistake; `reason` is a bounded metrics label
│   └── UnknownUser         404  `{"user_id"}` of a user with no online activity to score
├── ModelUnavailable        503  no model is loaded yet (no champion, or every one refused)
├── FeaturesUnavailable     503  Feast's online store did not answer after bounded retries
└── ModelRefused                 a version that must not serve: logged, counted, never raised
    ├── ArtifactRefused          missing, corrupt or wrongly shaped file, unusable URI
    └── FeaturesRefused          its feature list or spec hash is not serving's
```

The model translates them at the KServe boundary (`InvalidRequest` to kserve's `InvalidInput`,
the 503s to `ModelNotReady`); `UnknownUser` has its own handler in `server.py`. A client's mistake
is never a 500: anything else that escapes is a bug.
"""

from __future__ import annotations


class PredictorError(Exception):
    """Root of the predictor's exceptions."""


class InvalidRequest(PredictorError):
    """The request is malformed; the message says what to fix.

    Args:
        reason: A short, bounded label for the refused-requests metric (`shape`, `nan`, ...).
        message: What is wrong, for the client.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class UnknownUser(InvalidRequest):
    """The online store has no recent activity for this user, so there is nothing to score."""

    def __init__(self, user_id: str) -> None:
        super().__init__(
            "unknown_user",
            f"user {user_id!r} has no activity in the online store (never seen, or none in the "
            "activity view's 30-day TTL); send the transaction itself as "
            '{"instances": [<transaction event>]} to score it',
        )
        self.user_id = user_id


class ModelUnavailable(PredictorError):
    """No model can score yet."""


class FeaturesUnavailable(PredictorError):
    """The online feature store is unconfigured or not answering."""


class ModelRefused(PredictorError):
    """A model version that will not be served; the previous one (if any) keeps serving."""

    outcome = "refused"


class ArtifactRefused(ModelRefused):
    """The artifact cannot be read or is not a fraud model."""

    outcome = "refused_artifact"


class FeaturesRefused(ModelRefused):
    """The artifact's feature list or spec hash differs from serving's feature spec."""

    outcome = "refused_features"
