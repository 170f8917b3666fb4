"""The project's `Registry`, with the client's coroutines run on a private event loop thread.

`model_registry.ModelRegistry` runs its async API through `loop.run_until_complete`, and without an
`async_runner` it applies `nest_asyncio` to the whole process: that swaps asyncio's C tasks and
futures for the pure-Python ones under the server's event loop. The predictor calls the registry
from its reload thread anyway, so it gives the client a runner that submits each coroutine to one
loop of its own and waits for the answer. Everything else (versions, the champion) is
`batch_pipeline.registry.Registry`'s.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from batch_pipeline.registry import Registry

T = TypeVar("T")
CALL_TIMEOUT_S = 30.0


class ThreadedRegistry(Registry):
    """A `Registry` whose client never patches the process's asyncio."""

    def __init__(self, url: str, model_name: str, author: str = "fraud-predictor") -> None:
        # The client runs on a loop thread of its own, so it never touches the server's loop.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="registry-client", daemon=True
        )
        self._thread.start()
        try:
            super().__init__(url, model_name, author, async_runner=self._run)
        except Exception:
            self.close()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT_S)

    def close(self) -> None:
        """Stop the client's loop thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
