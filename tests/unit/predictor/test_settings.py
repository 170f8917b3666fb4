"""Settings: environment, then the command line; refusals say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

import predictor
from predictor.__main__ import SERVE_CONTEXT, main, serve, settings_from
from predictor.settings import PredictorSettings


def test_defaults_environment_and_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUD_PREDICTOR_HTTP_PORT", raising=False)
    default = settings_from([])
    assert (default.host, default.http_port, default.hot_reload) == ("127.0.0.1", 18081, True)
    monkeypatch.setenv("FRAUD_PREDICTOR_HTTP_PORT", "18555")
    monkeypatch.setenv("FRAUD_PREDICTOR_REGISTERED_MODEL", "from-env")
    settings = settings_from(["--http-port", "18666", "--model-version", "3", "--no-features"])
    assert (settings.http_port, settings.registered_model) == (18666, "from-env")
    assert settings.model_version == "3" and not settings.hot_reload
    assert settings.feature_data is None
    assert settings_from(["--feature-data", "x"]).feature_data == Path("x")
    assert not settings_from(["--reload-interval", "0"]).hot_reload


def test_refusals() -> None:
    with pytest.raises(ValidationError, match="loopback only"):
        PredictorSettings(host="0.0.0.0")  # noqa: S104 - the value being refused
    with pytest.raises(ValidationError, match="not both"):
        PredictorSettings(model_uri="/m.onnx", model_version="2")
    with pytest.raises(SystemExit):
        settings_from(["--model-uri", "a", "--model-version", "2"])
    assert main(["--host", "10.0.0.1"]) == 2


def test_a_misspelled_variable_is_refused_naming_the_one_meant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUD_PREDICTOR_HTTPPORT", "18555")
    assert main([]) == 2
    said = capsys.readouterr().err
    assert "FRAUD_PREDICTOR_HTTPPORT is not one (did you mean FRAUD_PREDICTOR_HTTP_PORT?)" in said


def test_exported_members() -> None:
    assert sorted(predictor.__all__) == sorted(
        [
            "MODEL_NAME", "ArtifactRefused", "FeaturesRefused", "FeaturesUnavailable",
            "FraudDetector", "InvalidRequest", "ModelRefused", "ModelUnavailable",
            "PredictorError", "PredictorSettings", "UnknownUser", "main",
        ]
    )  # fmt: skip
    for name in predictor.__all__:
        assert getattr(predictor, name) is not None


def test_fraud_serve_passes_every_option_to_the_predictor() -> None:
    app = typer.Typer()  # registered as deploy/cli.py registers it on `fraud`
    app.command("serve", context_settings=SERVE_CONTEXT, add_help_option=False)(serve)
    app.command("other")(lambda: None)
    shown = CliRunner().invoke(app, ["serve", "--help"])
    assert shown.exit_code == 0
    assert shown.output.startswith("usage: fraud serve")
    options = "--model-uri --model-version --registry-url --registered-model --feature-data"
    for option in [*options.split(), "--http-port", "--reload-interval", "--max-batch-rows"]:
        assert option in shown.output
    refused = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert refused.exit_code == 2
