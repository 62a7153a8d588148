"""`uecity serve-sim` as a user starts it: its options reach the emulated engine."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from typer.testing import CliRunner

from uecity.cli import app
from uecity.unreal import wire


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_sim_runs_the_engine_its_options_describe() -> None:
    port = free_port()
    command = [sys.executable, "-m", "uecity", "serve-sim", "--port", str(port), "--platform",
               "windows", "--build", "shipping", "--tick-ms", "0"]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        banner = server.stderr.readline()  # type: ignore[union-attr]
        assert "windows shipping build" in banner and "≤32 requests/tick" in banner, banner
        for attempt in range(2):  # Windows: one client after another, over TCP
            deadline = time.monotonic() + 10
            while True:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            with sock:
                assert wire.receive_message(sock) == b"connected to UECitySim"
                wire.send_message(sock, f"{attempt}:vbp WorldSettings Anything".encode())
                _, body = wire.split_reply(wire.receive_message(sock))
                assert body == b"error No viewport console available"  # a Shipping build
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_sim_refuses_an_unknown_class() -> None:
    result = CliRunner().invoke(app, ["serve-sim", "--unloaded-class", "/Game/Nope.Nope_C"])
    assert result.exit_code == 2
    assert "--unloaded-class /Game/Nope.Nope_C is not a class of the catalog" in result.output
