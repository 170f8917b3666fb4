"""Which model serves: a pinned file or version, or the champion, followed in the background.

`ModelSource.initial()` gives the model to start with. With the champion, `ChampionWatcher` polls
the registry from a daemon thread; a new champion is loaded there (file read, checks, a new
onnxruntime session, one probe row) while requests keep scoring on the old one, then handed to
`on_loaded`, which swaps it in with one reference assignment. A version that fails to load or fails
its feature check is refused: logged, counted, remembered (not retried until the champion changes
again), and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from batch_pipeline.registry import Registry, RegistryError
from predictor.errors import ModelRefused
from predictor.metrics import RELOADS
from predictor.scorer import LoadedModel, load_model
from predictor.settings import PredictorSettings

log = logging.getLogger(__name__)


class ModelSource:
    """Where the served model comes from, as the settings say."""

    def __init__(self, settings: PredictorSettings, registry: Registry | None) -> None:
        self.settings = settings
        self.registry = registry

    def initial(self) -> LoadedModel | None:
        """The model to start with; None when following the champion and none can serve yet.

        Raises:
            ModelRefused: a pinned file or version cannot serve (fail fast: it is configuration).
            RegistryError: a pinned version does not exist.
        """
        s = self.settings
        if s.model_uri:
            return self._load(s.model_uri, None, "pinned file")
        registry = self._registry()
        if s.model_version:
            info = registry.get(s.model_version)
            return self._load(info.uri, info.name, "pinned version")
        try:
            return self.load_champion(None, set())
        except ModelRefused:
            return None  # already logged and counted; the watcher tries the next champion

    def load_champion(
        self, current: str | None, refused: set[tuple[str, str]]
    ) -> LoadedModel | None:
        """Load the registry's champion if it is new; None if it is the current one or absent.

        Raises:
            ModelRefused: it cannot serve (also added to `refused`).
            RegistryError: the registry did not answer as expected.
        """
        champion = self._registry().champion()
        if champion is None or champion.name == current:
            return None
        key = (champion.name, champion.uri)
        if key in refused:
            return None
        try:
            return self._load(champion.uri, champion.name, "champion")
        except ModelRefused:
            refused.add(key)
            raise

    def _registry(self) -> Registry:
        if self.registry is None:
            raise RegistryError("no registry configured")
        return self.registry

    def _load(self, uri: str, version: str | None, what: str) -> LoadedModel:
        try:
            model = load_model(uri, self.settings.onnx_threads, expect_version=version)
        except ModelRefused as exc:
            RELOADS.labels(exc.outcome).inc()
            log.error(
                "model refused what=%s version=%s uri=%s outcome=%s reason=%s",
                what, version, uri, exc.outcome, exc,
            )  # fmt: skip
            raise
        RELOADS.labels("loaded").inc()
        log.info("model loaded what=%s version=%s uri=%s", what, model.version, uri)
        return model


class ChampionWatcher:
    """Polls the champion every `interval_s` seconds from a daemon thread."""

    def __init__(
        self,
        source: ModelSource,
        current: Callable[[], str | None],
        on_loaded: Callable[[LoadedModel], None],
        interval_s: float,
    ) -> None:
        self.source = source
        self.current = current
        self.on_loaded = on_loaded
        self.interval_s = interval_s
        self.refused: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s + 5)

    def poll_once(self) -> bool:
        """Check the champion once; True when a new version was swapped in."""
        try:
            model = self.source.load_champion(self.current(), self.refused)
        except ModelRefused:
            return False
        except (RegistryError, OSError, TimeoutError) as exc:
            RELOADS.labels("registry_error").inc()
            log.warning("champion poll failed error=%r; serving what is loaded", exc)
            return False
        except Exception:  # the registry client raises its own types; polling must go on
            RELOADS.labels("registry_error").inc()
            log.exception("champion poll failed unexpectedly; serving what is loaded")
            return False
        if model is None:
            return False
        self.on_loaded(model)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll_once()
