"""`kserve.ModelServer`, bound to loopback, with the predictor's error answers.

KServe 0.21's `RESTServer` hard-codes `host="0.0.0.0"` in its uvicorn config and its gRPC server
listens on `[::]`; there is no option for either. `PredictorServer` therefore starts the REST
server itself with the configured (loopback-only) host, never starts gRPC, and leaves signal
handling to uvicorn, which drains in-flight requests on SIGTERM/SIGINT.

Binary v2 tensors are decoded by `TensorDataPlane` (see dataplane.py). Error answers added to
KServe's: a FastAPI body-validation error (a v2 request that is not an
inference request) is 400, not FastAPI's 422; `UnknownUser` is 404 with its message; 400s and
503s are counted in `fraud_predictor_refused_requests_total` and logged at INFO, not as errors.
A body over `max_body_bytes` is 413 (`BodyLimit`): by its Content-Length before it is read, or,
sent in chunks, once that many bytes have arrived.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve import ModelServer
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.errors import InvalidInput, ModelNotReady
from kserve.protocol.rest.server import RESTServer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from predictor.dataplane import TensorDataPlane
from predictor.errors import PredictorError, UnknownUser
from predictor.metrics import REFUSED
from predictor.model import FraudDetector
from predictor.settings import PredictorSettings

log = logging.getLogger(__name__)


class LoopbackRESTServer(RESTServer):  # type: ignore[misc]  # kserve ships no type information
    """KServe's REST server on a chosen host, with the predictor's exception handlers."""

    def __init__(
        self, *args: Any, host: str, max_body_bytes: int, timing_log: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config.host = host
        self.max_body_bytes = max_body_bytes
        self.timing_log = timing_log

    def _add_middlewares(self, app: FastAPI) -> None:
        app.add_middleware(BodyLimit, max_bytes=self.max_body_bytes)
        # KServe's only middleware logs each request's wall and CPU time on `kserve.trace`, and
        # finds the route's name by matching every route again: about a third of a millisecond
        # of CPU per request. It runs only with the access log (KServe's request histograms do
        # not depend on it).
        if self.timing_log:
            super()._add_middlewares(app)

    def _add_exception_handlers(self, app: FastAPI) -> None:
        super()._add_exception_handlers(app)
        app.add_exception_handler(InvalidInput, _invalid_input)
        app.add_exception_handler(RequestValidationError, _invalid_body)
        app.add_exception_handler(UnknownUser, _unknown_user)
        app.add_exception_handler(ModelNotReady, _not_ready)
        app.add_exception_handler(HTTPStatus.REQUEST_ENTITY_TOO_LARGE.value, _too_large)


class BodyLimit:
    """Answers 413 to a request body over `max_bytes`, so that no request is read whole into
    memory however large it is.

    A Content-Length over the limit is answered at once, the body unread. A chunked body is
    counted as it arrives; the read that crosses the limit raises a 413 `HTTPException` (FastAPI
    passes those on, where any other error of a body read becomes its own 400), answered by
    `_too_large`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = await _too_large(None, self._refusal(f"is {int(declared):,} bytes"))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._refusal(f"went over {self.max_bytes:,} bytes")
            return message

        await self.app(scope, counted, send)

    def _refusal(self, size: str) -> HTTPException:
        return HTTPException(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the request body {size}; at most {self.max_bytes:,} are read "
            "(--max-body-bytes, FRAUD_PREDICTOR_MAX_BODY_BYTES): send fewer rows per request",
        )


async def _invalid_input(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc.__cause__, PredictorError):  # ours were counted with their reason
        REFUSED.labels("malformed").inc()
        log.info("request refused reason=malformed detail=%s", exc)
    return JSONResponse(status_code=HTTPStatus.BAD_REQUEST, content={"error": str(exc)})


async def _invalid_body(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
        for e in errors[:5]
    )
    REFUSED.labels("schema").inc()
    log.info("request refused reason=schema detail=%s", detail)
    return JSONResponse(
        status_code=HTTPStatus.BAD_REQUEST,
        content={"error": f"not a v2 inference request: {detail}"},
    )


async def _too_large(_: Request | None, exc: Exception) -> JSONResponse:
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    REFUSED.labels("too_large").inc()
    log.info("request refused reason=too_large detail=%s", detail)
    return JSONResponse(status_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, content={"error": detail})


async def _unknown_user(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=HTTPStatus.NOT_FOUND, content={"error": str(exc)})


async def _not_ready(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc.__cause__, PredictorError):
        REFUSED.labels("model_unavailable").inc()
    return JSONResponse(status_code=HTTPStatus.SERVICE_UNAVAILABLE, content={"error": str(exc)})


class PredictorServer(ModelServer):  # type: ignore[misc]  # kserve ships no type information
    """One model, REST only, on the settings' host and port."""

    def __init__(self, settings: PredictorSettings) -> None:
        super().__init__(
            http_port=settings.http_port,
            workers=1,
            enable_grpc=False,
            enable_docs_url=False,
            enable_latency_logging=False,
            access_log_format=None,
            grace_period=10,
        )
        self.settings = settings
        self.dataplane = TensorDataPlane(model_registry=self.registered_models)

    def serve(self, model: FraudDetector) -> None:
        """Register the model (ready or not: the watcher may load it later) and serve until a
        signal; a model that is not ready answers 503."""
        self.register_model(model)
        model.start()
        self._rest_server = LoopbackRESTServer(
            FASTAPI_APP_IMPORT_STRING,
            self.dataplane,
            self.model_repository_extension,
            self.http_port,
            host=self.settings.host,
            max_body_bytes=self.settings.max_body_bytes,
            timing_log=self.settings.access_log,
            grace_period=self.grace_period,
            event_loop=self.event_loop,
            timeout_keep_alive=self.timeout_keep_alive,
        )
        self.servers.append(self._rest_server.start())
        # uvicorn handles SIGINT/SIGTERM while serving and re-raises them afterwards: catch that
        # re-raise so the process ends normally once the requests are drained.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda s, _f: log.info("stopped by signal=%s", s))
        # KServe runs its servers with asyncio.run(), i.e. always on the default event loop;
        # uvicorn's own choice ("auto": uvloop when installed) takes less CPU per request.
        loop_factory = self._rest_server.config.get_loop_factory()
        log.info(
            "predictor listening host=%s port=%d ready=%s loop=%s",
            self.settings.host, self.http_port, model.ready,
            getattr(loop_factory, "__module__", "asyncio"),
        )  # fmt: skip
        # Everything loaded so far (KServe, Feast, onnxruntime: ~400,000 objects) lives as long
        # as the process; a full collection walking it pauses every request for hundreds of ms.
        gc.collect()
        gc.freeze()
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(self._serve())
        finally:
            model.stop()
