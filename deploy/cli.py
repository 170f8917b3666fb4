"""The `fraud` command line: one entry point, sub-commands from each part of the system."""

from __future__ import annotations

import logging

import typer

from batch_pipeline.cli import app as data_app
from batch_pipeline.model.cli import model_app, train_command
from deploy.stack.cli import app as stack_app
from feature_repo.cli import app as features_app
from predictor.__main__ import SERVE_CONTEXT, serve
from streaming.cli import alerts_app, produce_command
from streaming.demo import run as demo
from streaming.worker import app as stream_app

app = typer.Typer(
    help="Real-time card-fraud scoring: local stack, data, training, serving and streaming.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.command("train")(train_command)
app.add_typer(model_app, name="model")
app.command("demo")(demo)
app.command("produce")(produce_command)
app.add_typer(alerts_app, name="alerts")
app.add_typer(stream_app, name="stream")
app.command("serve", context_settings=SERVE_CONTEXT, add_help_option=False)(serve)


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
