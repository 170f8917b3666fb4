"""`python -m predictor` and `fraud serve`: the KServe model server for the ONNX champion.

Every option is also `FRAUD_PREDICTOR_<NAME>` in the environment; the command line wins.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import typer
from pydantic import ValidationError

from predictor.settings import PredictorSettings

log = logging.getLogger("predictor")
# `fraud serve` passes everything to this module's own parser, so both entry points take the same
# options (and `fraud serve --help` shows them).
SERVE_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def build_parser(prog: str = "python -m predictor") -> argparse.ArgumentParser:
    """The command line; every default comes from `PredictorSettings` (and the environment)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve the fraud model (KServe v1 + v2) on loopback. Each option is also "
        "FRAUD_PREDICTOR_<OPTION> in the environment.",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    model = p.add_argument_group("model (default: the registry's champion, followed live)")
    pinned = model.add_mutually_exclusive_group()
    pinned.add_argument("--model-uri", help="Serve this ONNX file; no registry, no reload.")
    pinned.add_argument("--model-version", help="Serve this registry version, pinned.")
    model.add_argument("--registry-url", help="Model registry, e.g. http://127.0.0.1:18080.")
    model.add_argument("--registered-model", help="Registered model name (fraud-detector).")
    model.add_argument(
        "--reload-interval", dest="reload_interval_s", type=float,
        help="Seconds between champion polls; 0 turns hot reload off.",
    )  # fmt: skip
    feast = p.add_argument_group("online features (v1 only)")
    feast.add_argument(
        "--feature-data", type=Path, help="Feast data folder with registry.db (feature_repo/data)."
    )
    feast.add_argument("--no-features", action="store_true", help="Serve v2 only, without Feast.")
    feast.add_argument("--redis-connection", help="Feast Redis string, 127.0.0.1:16379,db=0.")
    feast.add_argument("--feast-project", help="Feast project (fraud_scorer).")
    feast.add_argument("--feature-cache-ttl", dest="feature_cache_ttl_s", type=float)
    server = p.add_argument_group("server")
    server.add_argument("--host", help="Loopback address to bind (127.0.0.1).")
    server.add_argument("--http-port", type=int, help="HTTP port (18081).")
    server.add_argument("--max-instances", type=int, help="Most events in one v1 request.")
    server.add_argument("--max-batch-rows", type=int, help="Most rows in one v2 tensor.")
    server.add_argument(
        "--max-body-bytes", type=int, help="Largest request body, in bytes (8 MiB); 413 above."
    )
    server.add_argument("--onnx-threads", type=int, help="onnxruntime intra-op threads.")
    server.add_argument("--access-log", action="store_true", help="Log every HTTP request.")
    server.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def settings_from(
    argv: Sequence[str] | None, prog: str = "python -m predictor"
) -> PredictorSettings:
    """Environment first, then the command line on top."""
    args = vars(build_parser(prog).parse_args(argv))
    if args.pop("no_features", False):
        args["feature_data"] = None
    return PredictorSettings(**args)


def configure_logging(settings: PredictorSettings) -> None:
    """KServe and uvicorn keep their format; the predictor's loggers write key=value messages."""
    from fastapi.exceptions import FastAPIDeprecationWarning
    from kserve import logging as kserve_logging

    kserve_logging.configure_logging()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    if not settings.access_log:
        # uvicorn logs a request only when its access logger has handlers; KServe's timing
        # middleware logs two more lines per request on kserve.trace.
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate = [], False
        logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    # KServe 0.21 answers with FastAPI's ORJSONResponse, deprecated by FastAPI: not ours to fix.
    warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)


def main(argv: Sequence[str] | None = None, prog: str = "python -m predictor") -> int:
    """Parse options, load the model, serve until SIGTERM/SIGINT; the exit status."""
    from deploy.stack.settings import unknown_variables

    if unknown := unknown_variables(PredictorSettings, os.environ):
        sys.stderr.write(f"unknown predictor settings: {'; '.join(unknown)}\n")
        return 2
    try:
        settings = settings_from(argv, prog)
    except ValidationError as exc:
        sys.stderr.write(f"invalid predictor settings:\n{exc}\n")
        return 2
    configure_logging(settings)
    from predictor.app import build

    try:
        server, model = build(settings)
    except Exception:
        log.exception("predictor failed to start")
        return 1
    server.serve(model)
    return 0


def serve(ctx: typer.Context) -> None:
    """Serve the fraud model (KServe v1 + v2) on 127.0.0.1; `fraud serve --help` lists options."""
    raise typer.Exit(main(list(ctx.args), prog="fraud serve"))


if __name__ == "__main__":
    sys.exit(main())
