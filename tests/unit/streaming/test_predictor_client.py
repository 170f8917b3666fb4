"""The stream's predictor client against a real local HTTP server: retries, then gives up."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import numpy as np
import orjson
import pytest
from aiohttp import web

from predictor.artifact import OUTPUT_NAME
from streaming.predictor_client import PredictorClient, PredictorUnavailable
from streaming.v2 import HEADER

MATRIX = np.zeros((3, 4), dtype=np.float32)


def _scores(request_rows: int) -> web.Response:
    head = orjson.dumps(
        {
            "model_version": "9",
            "parameters": {"threshold": 0.5},
            "outputs": [{"name": OUTPUT_NAME, "data": [0.25] * request_rows}],
        }
    )
    return web.Response(body=head, headers={HEADER: str(len(head))})


async def _serve(
    handler: Callable[[web.Request], Awaitable[web.Response]],
    use: Callable[[str], Awaitable[None]],
) -> None:
    app = web.Application()
    app.router.add_post("/v2/models/fraud/infer", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        await use(f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


def _client(url: str, attempts: int) -> PredictorClient:
    return PredictorClient(
        url, "fraud", timeout_s=2.0, attempts=attempts, breaker_failures=10, breaker_reset_s=5
    )


def test_transient_failures_are_retried_until_an_answer() -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(asyncio.get_running_loop().time())
        await request.read()
        return web.Response(status=503) if len(calls) < 3 else _scores(3)

    async def use(url: str) -> None:
        client = _client(url, attempts=3)
        try:
            result = await client.score(MATRIX)
        finally:
            await client.aclose()
        assert result.model_version == "9" and result.scores.tolist() == [0.25] * 3

    asyncio.run(_serve(handler, use))
    assert len(calls) == 3
    waits = np.diff(calls)
    assert waits[0] >= 0.02 and waits[1] >= 0.04  # exponential waits between attempts


def test_after_the_last_attempt_the_predictor_is_unavailable() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503, text="overloaded")

    async def use(url: str) -> None:
        for attempts in (1, 3):
            client = _client(url, attempts=attempts)
            try:
                with pytest.raises(PredictorUnavailable, match="503"):
                    await client.score(MATRIX)
            finally:
                await client.aclose()

    asyncio.run(_serve(handler, use))
    assert calls == 1 + 3


def test_the_breaker_says_why_it_opened(caplog: pytest.LogCaptureFixture) -> None:
    """Its log line names the endpoint and the last failure, so a wrong URL or a down predictor
    is not only a stream of degraded scores."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded")

    async def use(url: str) -> None:
        client = PredictorClient(
            url, "fraud", timeout_s=2.0, attempts=1, breaker_failures=2, breaker_reset_s=5
        )
        try:
            for _ in range(3):
                with pytest.raises(PredictorUnavailable):
                    await client.score(MATRIX)
        finally:
            await client.aclose()
        assert client.state == "opened"

    with caplog.at_level("WARNING", logger="streaming.predictor_client"):
        asyncio.run(_serve(handler, use))
    (line,) = [r.getMessage() for r in caplog.records if "breaker" in r.getMessage()]
    assert "state=opened" in line and "/v2/models/fraud/infer" in line
    assert "last error: predictor answered 503: b'overloaded'" in line


@pytest.mark.parametrize("url", ["notaurl", "http://", "127.0.0.1:18081", "http://a b"])
def test_a_predictor_url_that_is_not_http_is_refused(url: str) -> None:
    from pydantic import ValidationError

    from streaming.settings import StreamSettings

    with pytest.raises(ValidationError, match="predictor_url"):
        StreamSettings(predictor_url=url)
    for good in ("http://127.0.0.1:18081", "http://[::1]:18081", "https://scorer.internal/kserve"):
        assert StreamSettings(predictor_url=good).predictor_url == good
