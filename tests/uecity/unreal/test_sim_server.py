"""`serve-sim` speaks UnrealCV as the engine's server does, checked with the real PyPI client."""

from __future__ import annotations

import socket
import time

import cv2
import numpy as np
import pytest
import unrealcv
from uecity.unreal.sim_server import VBATCH_WAIT_S, FaultPlan

from tests.uecity.unreal.conftest import ServerFactory
from uecity.unreal import wire
from uecity.unreal.connection import Endpoint, UnrealCvConnection, parse_colour


def raw_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert wire.receive_message(sock) == b"connected to UECitySim"
    return sock


def ask(sock: socket.socket, request_id: int, command: str) -> bytes:
    wire.send_message(sock, f"{request_id}:{command}".encode())
    reply_id, body = wire.split_reply(wire.receive_message(sock))
    assert reply_id == request_id
    return body


def test_the_pypi_client_talks_to_it(start_server: ServerFactory) -> None:
    server = start_server()
    client = unrealcv.Client(("127.0.0.1", server.port))
    with pytest.warns(UserWarning, match="too old to report its supported commands"):
        assert client.connect(timeout=5)
    try:
        assert client.request("vget /unrealcv/status").startswith("Is Listening")
        assert client.request("vget /cameras") == "0"
        assert client.request("vset /cameras/spawn") == "1"
        assert client.request("vset /camera/1/location 100 -200 300") == "ok"
        assert client.request("vget /camera/1/location") == "100.000 -200.000 300.000"
        assert client.request("vget /nonsense") == "error No handler found for URI 'vget /nonsense'"
        replies = client.request_batch(
            [
                "vget /action/game/is_paused",
                "vset /action/game/pause",
                "vget /action/game/is_paused",
            ]
        )
        assert replies == ["false", "ok", "true"]
        png = client.request("vget /camera/1/lit png")
        assert isinstance(png, bytes) and png.startswith(b"\x89PNG")
    finally:
        client.disconnect()


def test_objects_spawn_colour_and_destroy(start_server: ServerFactory) -> None:
    sock = raw_connect(start_server().port)
    with sock:
        car = "/Game/UECity/Vehicles/BP_Car.BP_Car_C"
        assert ask(sock, 0, f"vset /objects/spawn {car} car_1") == b"car_1"
        assert ask(sock, 1, f"vset /objects/spawn {car} car_1").startswith(b"error")
        assert ask(sock, 2, "vset /objects/spawn /Game/Nope.Nope_C x") == (
            b"error Can not find class /Game/Nope.Nope_C"
        )
        assert ask(sock, 3, "vset /object/car_1/color 10 20 30") == b"ok"
        assert parse_colour(ask(sock, 4, "vget /object/car_1/color").decode()) == (10, 20, 30)
        assert b"car_1" in ask(sock, 5, "vget /objects").split()
        assert ask(sock, 6, "vbp car_1 SetPaintColor 1 0 0") == b"ok"
        assert ask(sock, 7, "vbp car_1 Explode").startswith(b"error Function Explode")
        assert ask(sock, 8, "vset /object/car_1/location 1 2").startswith(b"error expected 3")
        assert ask(sock, 9, "vset /object/car_1/destroy") == b"ok"
        assert ask(sock, 10, "vget /object/car_1/location") == b"error Can not find object car_1"


def test_a_second_client_is_refused_while_one_is_connected(start_server: ServerFactory) -> None:
    server = start_server()
    first = raw_connect(server.port)
    with first, socket.create_connection(("127.0.0.1", server.port), timeout=5) as second:
        second.settimeout(5)
        assert second.recv(16) == b""  # closed without a greeting
        assert ask(first, 0, "vget /cameras") == b"0"
    assert server.refused_connections == 1


def test_object_mask_colours_come_back_within_tolerance(start_server: ServerFactory) -> None:
    sock = raw_connect(start_server().port)
    with sock:
        for i, command in enumerate(
            [
                "vset /cameras/spawn",
                "vset /camera/1/size 320 240",
                "vset /camera/1/location 0 0 2000",
                "vset /camera/1/rotation -89 0 0",
                "vset /objects/spawn /Game/UECity/Vehicles/BP_Bus.BP_Bus_C bus",
                "vset /object/bus/color 200 40 120",
            ]
        ):
            ask(sock, i, command)
        mask = cv2.imdecode(
            np.frombuffer(ask(sock, 9, "vget /camera/1/object_mask png"), np.uint8),
            cv2.IMREAD_COLOR,
        )[:, :, ::-1]
    colours = {tuple(c) for c in mask.reshape(-1, 3).tolist()} - {(0, 0, 0)}
    assert len(colours) == 1
    (colour,) = colours
    assert all(abs(a - b) <= 2 for a, b in zip(colour, (200, 40, 120), strict=True))


def test_ticks_cost_synchronous_round_trips(start_server: ServerFactory) -> None:
    server = start_server(tick_s=0.01)
    sock = raw_connect(server.port)
    with sock:
        for i in range(5):
            ask(sock, i, "vget /cameras")
        ticks = [e.tick for e in server.request_log]
        assert len(set(ticks)) == 5  # one synchronous request per tick at best
        # Pipelined: 40 requests at most 32 per tick; inside vbatch: all in one tick.
        for i in range(40):
            wire.send_message(sock, f"{100 + i}:vget /cameras".encode())
        for _ in range(40):
            wire.receive_message(sock)
        pipelined = {e.tick for e in server.request_log[5:]}
        assert len(pipelined) >= 2
        wire.send_message(sock, b"200:vbatch 40")
        for i in range(40):
            wire.send_message(sock, f"{201 + i}:vget /cameras".encode())
        for _ in range(41):
            wire.receive_message(sock)
        batched = {e.tick for e in server.request_log[45:]}
        assert len(batched) == 1


def test_injected_drop_closes_the_connection(start_server: ServerFactory) -> None:
    server = start_server(faults=FaultPlan(drop_at_requests={2}))
    sock = raw_connect(server.port)
    with sock:
        ask(sock, 0, "vget /cameras")
        wire.send_message(sock, b"1:vget /cameras")
        with pytest.raises(wire.ConnectionClosed):
            wire.receive_message(sock)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the server takes the next client
        try:
            again = raw_connect(server.port)
            break
        except (ConnectionError, AssertionError, wire.ConnectionClosed):
            time.sleep(0.05)
    with again:
        assert ask(again, 0, "vget /cameras") == b"0"


def test_a_batch_cut_short_by_its_client_does_not_hold_the_next_one(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    sock = raw_connect(server.port)
    wire.send_message(sock, b"1:vbatch 5")
    wire.send_message(sock, b"2:vset /action/game/pause")  # ... and then the client is gone
    sock.close()
    deadline = time.monotonic() + 5
    while server._client is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    with raw_connect(server.port) as second:
        assert ask(second, 1, "vget /unrealcv/status").startswith(b"Is Listening")
        assert ask(second, 2, "vget /action/game/is_paused") == b"false"  # never ran
    assert time.monotonic() - started < VBATCH_WAIT_S / 2


def test_connection_wrapper_reports_an_endpoint_that_never_answers() -> None:
    # A socket that accepts but never greets, like a hung engine.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        connection = UnrealCvConnection(Endpoint("127.0.0.1", port), connect_timeout_s=1.0)
        started = time.monotonic()
        from uecity.errors import ExternalToolError

        with pytest.raises(
            ExternalToolError, match=f"no UnrealCV server answered at 127.0.0.1:{port}"
        ):
            connection.connect()
        assert time.monotonic() - started < 5


def test_endpoint_parsing() -> None:
    from uecity.errors import UsageError

    assert Endpoint.parse("10.0.0.2:9001") == Endpoint("10.0.0.2", 9001)
    assert Endpoint.parse(":9000") == Endpoint("127.0.0.1", 9000)
    for bad in ("localhost", "host:99999", "host:port"):
        with pytest.raises(UsageError, match="is not HOST:PORT"):
            Endpoint.parse(bad)
