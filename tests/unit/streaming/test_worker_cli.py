"""`fraud stream worker` refuses settings it cannot use before it starts anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack.settings import unknown_variables
from streaming.settings import StreamSettings

runner = CliRunner()


def test_a_misspelled_setting_is_named_with_the_one_meant() -> None:
    found = unknown_variables(
        StreamSettings,
        {"FRAUD_STREAM_BATCHMAX": "5", "FRAUD_STREAM_BATCH_MAX": "5", "HOME": "/root"},
    )
    assert found == ["FRAUD_STREAM_BATCHMAX is not one (did you mean FRAUD_STREAM_BATCH_MAX?)"]
    result = runner.invoke(app, ["stream", "worker"], env={"FRAUD_STREAM_LINGERMS": "3"})
    assert result.exit_code == 2
    assert "FRAUD_STREAM_LINGERMS is not one (did you mean FRAUD_STREAM_LINGER_MS?)" in (
        result.output
    )


def test_a_state_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "state"
    taken.write_text("")
    result = runner.invoke(app, ["stream", "worker", "--data-dir", str(taken)])
    assert result.exit_code == 2 and f"cannot use {taken}" in result.output
