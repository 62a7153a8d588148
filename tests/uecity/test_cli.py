"""The `uecity` command line as a user meets it: help, version, exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import build_small_dataset
from uecity import __version__
from uecity.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("validate", "info", "schemas"):
        assert command in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"uecity {__version__}"


def test_validate_clean_dataset_exits_zero(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    result = runner.invoke(app, ["validate", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "2 videos, 10 frames" in result.output


def test_validate_broken_dataset_lists_problems_and_exits_five(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    (tmp_path / "d/videos/0001/frames/000001.png").unlink()
    (tmp_path / "d/videos/0002/objects.json").write_text("[")
    result = runner.invoke(app, ["validate", str(tmp_path / "d")])
    assert result.exit_code == 5
    assert "videos/0001/frames/000001.png: frame file is missing" in result.output
    assert "videos/0002/objects.json: malformed JSON" in result.output
    assert "problems in" in result.output
    assert "Traceback" not in result.output


def test_info_summarises(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    result = runner.invoke(app, ["info", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "small" in result.output and "0002" in result.output and "split test" in result.output


def test_schemas_write_then_check(tmp_path: Path) -> None:
    assert runner.invoke(app, ["schemas", "--check", "--out", str(tmp_path)]).exit_code == 5
    assert runner.invoke(app, ["schemas", "--out", str(tmp_path)]).exit_code == 0
    result = runner.invoke(app, ["schemas", "--check", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "up to date" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["info", "/no/such/folder"], 4, "no such dataset folder"),
        (["validate"], 2, "Missing argument"),
        (["frobnicate"], 2, "No such command"),
        (["validate", "--frmes", "x"], 2, "No such option"),
    ],
)
def test_user_mistakes_exit_non_zero_without_traceback(
    args: list[str], code: int, message: str
) -> None:
    # Through the installed console script, as a user runs it.
    result = subprocess.run(
        [sys.executable, "-m", "uecity", *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
