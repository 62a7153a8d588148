"""`uecity annotate` as a user meets it: help, bad datasets, bad videos, the server it starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from tests.factories import build_small_dataset
from uecity.cli import app

runner = CliRunner()


def test_help_and_listing() -> None:
    assert "annotate" in runner.invoke(app, ["--help"]).output
    result = runner.invoke(app, ["annotate", "--help"])
    assert result.exit_code == 0 and "--no-browser" in result.output


def test_bad_dataset_and_video_give_a_message_and_exit_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["annotate", str(tmp_path / "missing"), "--no-browser"])
    assert result.exit_code == 4 and "no such dataset folder" in result.output
    build_small_dataset(tmp_path / "d")
    result = runner.invoke(app, ["annotate", str(tmp_path / "d"), "--video", "x", "--no-browser"])
    assert result.exit_code == 4 and "no video 'x'" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_serves_the_dataset_on_loopback(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uecity",
            "annotate",
            str(tmp_path / "d"),
            "--port",
            str(port),
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BROWSER": "true"},
    )
    try:
        deadline = time.monotonic() + 60  # generous: CI machines can be loaded
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/videos") as response:
                    listing = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert [v["video_id"] for v in listing["videos"]] == ["0001", "0002"]
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=False)
        if listening.returncode == 0:  # `ss` is there: nothing listens beyond loopback
            ours = [line for line in listening.stdout.splitlines() if f":{port} " in line]
            assert ours and all("127.0.0.1:" in line for line in ours)
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=10)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output
