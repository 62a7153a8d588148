"""`uecity annotate` as a user meets it: help, bad datasets, bad videos, the server it starts."""

from __future__ import annotations

import json
import os
import re
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


def _start(dataset: Path, *extra: str, ignore_sigint: bool = False) -> tuple[subprocess.Popen, str]:
    """Start `uecity annotate` on a free port (port 0) and return it with the URL it prints.

    `ignore_sigint` starts it the way a job started with `&` from a script is started: with
    SIGINT ignored, which Python keeps unless the program installs its own handler."""

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen(
        [sys.executable, "-m", "uecity", "annotate", str(dataset), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BROWSER": "true", "PYTHONUNBUFFERED": "1"},
        preexec_fn=ignore if ignore_sigint else None,
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode()  # printed just before serving (EOF if it died)
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
    assert match, first
    return process, match.group(0)


def _stop(process: subprocess.Popen, signum: int = signal.SIGINT) -> str:
    process.send_signal(signum)
    # generous: a loaded CI machine; a process that ignores the signal never ends at all
    rest = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, rest
    return rest


def test_the_command_serves_the_dataset_on_loopback(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    process, url = _start(tmp_path / "d", "--no-browser")
    try:
        deadline = time.monotonic() + 60  # generous: CI machines can be loaded
        while True:
            try:
                with urllib.request.urlopen(url + "api/videos", timeout=10) as response:
                    listing = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert [v["video_id"] for v in listing["videos"]] == ["0001", "0002"]
        port = url.rsplit(":", 1)[1].strip("/")
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=False)
        if listening.returncode == 0:  # `ss` is there: nothing listens beyond loopback
            ours = [line for line in listening.stdout.splitlines() if f":{port} " in line]
            assert ours and all("127.0.0.1:" in line for line in ours)
        # a browser tab keeps an idle keep-alive connection open: stopping must not wait on it
        idle = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        idle.sendall(b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert idle.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        assert "stopped" in _stop(process)
    idle.close()


def test_ctrl_c_and_sigterm_stop_it_even_when_started_with_sigint_ignored(
    tmp_path: Path,
) -> None:
    build_small_dataset(tmp_path / "d")
    process, _ = _start(tmp_path / "d", "--no-browser", ignore_sigint=True)
    assert "stopped" in _stop(process, signal.SIGINT)
    process, _ = _start(tmp_path / "d", "--no-browser")
    assert "stopped" in _stop(process, signal.SIGTERM)


def test_another_host_keeps_a_host_check_and_says_so(tmp_path: Path) -> None:
    build_small_dataset(tmp_path / "d")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uecity",
            "annotate",
            str(tmp_path / "d"),
            "--port",
            "0",
            "--host",
            "127.0.0.2",
            "--allow-host",
            "annotate.example",
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    url = process.stdout.readline().decode()
    warning = process.stderr.readline().decode()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert "http://127.0.0.2:" in url
    assert "other machines can read and change" in warning
    assert "annotate.example" in warning and "127.0.0.2" in warning and "--allow-host" in warning
