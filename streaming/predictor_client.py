"""Scores batches on the predictor's v2 endpoint: async HTTP, timeouts, bounded retries, a breaker.

The HTTP client is aiohttp (already the worker's web server, through Faust): per request it costs
a fraction of httpx's CPU, which matters on the worker's one event loop (httpx's request and
response machinery was a fifth of the worker's time at a few hundred requests a second).

A batch is tried `attempts` times (each within `timeout_s`, short exponential pauses between), so
no batch waits longer than about `attempts * timeout_s`. A batch that still fails counts against
the circuit breaker (purgatory); after `breaker_failures` failed batches in a row it opens, and for
`breaker_reset_s` every batch fails at once, without a request, so the stream scores it with the
fallback instead of queueing behind a dead predictor. Then one trial batch is let through: its
success closes the breaker, its failure opens it again.

A 4xx answer is not an outage: the request itself is wrong (a bug on this side, or a predictor
serving another feature spec), so it is raised as `PredictorRejected` and crashes the worker,
which says why in its log rather than degrade silently for ever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from predictor.artifact import Explain
from streaming.v2 import HEADER, ProtocolError, V2Result, decode, encode

log = logging.getLogger(__name__)

CIRCUIT = "predictor"
FIRST_RETRY_S, MAX_RETRY_WAIT_S = 0.02, 0.2  # exponential waits between attempts


class PredictorUnavailable(RuntimeError):
    """The predictor did not score a batch: down, slow, erroring, or the breaker is open."""


class PredictorRejected(RuntimeError):
    """The predictor refused the request as malformed (4xx): not something a retry fixes."""


class _Transient(RuntimeError):
    """One failed attempt that another attempt may fix (5xx, timeout, connection, garbled)."""


class PredictorClient:
    """One keep-alive HTTP client to `{url}/v2/models/{model}/infer`."""

    def __init__(
        self, url: str, model_name: str, *, timeout_s: float, attempts: int,
        breaker_failures: int, breaker_reset_s: float,
        on_state: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self.endpoint = f"{url.rstrip('/')}/v2/models/{model_name}/infer"
        self.attempts = attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None  # made in the running event loop
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_failures,
            default_ttl=breaker_reset_s,
            exclude=[PredictorRejected],
        )
        self.state = "closed"
        self._on_state = on_state
        self.breakers.add_listener(self._hook)
        self.last_latency_s = 0.0
        self.last_error: str | None = None  # of the last failed attempt, for the breaker's log

    def _hook(self, name: str, kind: str, event: Any) -> None:
        if kind == "state_changed":
            self.state = str(event.state)
            log.warning(
                "predictor circuit breaker state=%s (%s; last error: %s)",
                self.state, self.endpoint, self.last_error,
            )  # fmt: skip
            if self._on_state is not None:
                self._on_state(self.state)

    async def score(
        self, matrix: npt.NDArray[np.float32], *, explain: Explain = "none"
    ) -> V2Result:
        """Scores of the rows of `matrix` [N, F].

        Raises:
            PredictorUnavailable: every attempt failed, or the breaker is open.
            PredictorRejected: the predictor answered 4xx.
        """
        try:
            async with await self.breakers.get_breaker(CIRCUIT):
                return await self._with_retries(matrix, explain)
        except OpenedState as exc:
            raise PredictorUnavailable("circuit breaker open") from exc
        except _Transient as exc:
            raise PredictorUnavailable(str(exc)) from exc

    async def _with_retries(self, matrix: npt.NDArray[np.float32], explain: Explain) -> V2Result:
        """Up to `attempts` tries, waiting 20, 40, 80... ms (at most 200) between them.

        The first try goes without tenacity: its retry state is a cycle of some 35 objects
        that only the garbage collector frees, and at tens of batches a second the collections
        that free them stalled scoring for 100 ms and more.
        """
        try:
            return await self._once(matrix, explain)
        except _Transient:
            if self.attempts <= 1:
                raise
        await asyncio.sleep(FIRST_RETRY_S)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts - 1),
            wait=wait_exponential(multiplier=2 * FIRST_RETRY_S, max=MAX_RETRY_WAIT_S),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(matrix, explain)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _once(self, matrix: npt.NDArray[np.float32], explain: Explain) -> V2Result:
        body, length = encode(matrix, explain=explain)
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=4)
            )
        started = time.perf_counter()
        try:
            async with self._http.post(
                self.endpoint,
                data=body,
                headers={"content-type": "application/octet-stream", HEADER: length},
            ) as response:
                status, content = response.status, await response.read()
                header = response.headers.get(HEADER)
        except (aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, timed out
            raise self._failed(f"{type(exc).__name__}: {exc}") from exc
        self.last_latency_s = time.perf_counter() - started
        if 400 <= status < 500:
            text = content[:500].decode(errors="replace")
            raise PredictorRejected(f"predictor answered {status}: {text}")
        if status != 200:
            raise self._failed(f"predictor answered {status}: {content[:200]!r}")
        try:
            return decode(content, header, len(matrix))
        except ProtocolError as exc:
            raise self._failed(str(exc)) from exc

    def _failed(self, why: str) -> _Transient:
        self.last_error = why
        return _Transient(why)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
