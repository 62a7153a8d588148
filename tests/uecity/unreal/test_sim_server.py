"""`serve-sim` answers as the real UnrealCV 5.2 plugin does (each behaviour as read from the
plugin's source, named in the test), checked over real TCP and Unix sockets, with raw framing
and the real PyPI client. Each behaviour is one the bridge of the first wave got wrong."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import unrealcv

from tests.uecity.unreal.conftest import ServerFactory
from uecity.unreal import wire
from uecity.unreal.connection import parse_colour
from uecity.unreal.emulator.engine import EngineBehaviour, encode_bmp
from uecity.unreal.emulator.server import FaultPlan, SimServer

CAR = "/Game/UECity/Vehicles/BP_Car.BP_Car_C"
RED_CAR = "/Game/UECity/Vehicles/Variants/BP_Car_red.BP_Car_red_C"


def raw_connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    assert wire.receive_message(sock) == b"connected to UECitySim"
    return sock


def unix_connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(str(path))
    assert wire.receive_message(sock) == b"connected to UECitySim"
    return sock


def ask(sock: socket.socket, request_id: int, command: str) -> bytes:
    wire.send_message(sock, f"{request_id}:{command}".encode())
    reply_id, body = wire.split_reply(wire.receive_message(sock))
    assert reply_id == request_id
    return body


def wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_pypi_client_talks_to_it(start_server: ServerFactory) -> None:
    server = start_server()
    client = unrealcv.Client(("127.0.0.1", server.port))
    with pytest.warns(UserWarning, match="too old to report its supported commands"):
        assert client.connect(timeout=5)
    try:
        assert client.request("vget /unrealcv/status").startswith("Is Listening")
        assert client.request("vget /cameras") == "PawnSensor "
        assert client.request("vget /nonsense") == "error No handler found for URI 'vget /nonsense'"
        assert client.request_batch(
            [
                "vget /action/game/is_paused",
                "vset /action/game/pause",
                "vget /action/game/is_paused",
            ]
        ) == ["false", "ok", "true"]
    finally:
        client.disconnect()


def test_linux_serves_one_tcp_session_then_only_its_unix_socket(
    start_server: ServerFactory,
) -> None:
    """`UnixTcpServer::OnClientConnected`: the first TCP client, then `/tmp/unrealcv_<port>.socket`
    forever; a later TCP client is let in by the backlog and never greeted."""
    server = start_server(behaviour=EngineBehaviour(platform="linux"))
    first = raw_connect(server.port)
    assert not server.socket_path.exists()  # the socket comes only after the TCP session
    assert ask(first, 1, "vget /cameras") == b"PawnSensor "
    first.close()
    wait_until(server.socket_path.exists)
    second = socket.create_connection(("127.0.0.1", server.port), timeout=1)
    with second, pytest.raises(TimeoutError):
        wire.receive_message(second)  # never greeted
    with unix_connect(server.socket_path) as local:
        assert ask(local, 2, "vget /unrealcv/status").startswith(b"Is Listening")
    with unix_connect(server.socket_path) as again:  # the socket takes client after client
        assert ask(again, 3, "vget /cameras") == b"PawnSensor "


def test_windows_serves_tcp_clients_one_after_another(start_server: ServerFactory) -> None:
    """A second concurrent client waits un-greeted until the first leaves, then is served."""
    server = start_server(behaviour=EngineBehaviour(platform="windows"))
    first = raw_connect(server.port)
    second = socket.create_connection(("127.0.0.1", server.port), timeout=0.5)
    with pytest.raises(TimeoutError):
        wire.receive_message(second)
    first.close()
    second.settimeout(5)
    assert wire.receive_message(second) == b"connected to UECitySim"
    assert ask(second, 7, "vget /cameras") == b"PawnSensor "
    second.close()
    assert not server.socket_path.exists()


def test_a_dropped_clients_requests_are_answered_to_the_next_client(
    start_server: ServerFactory,
) -> None:
    """One `PendingRequest` queue per engine: a dropped client's queued requests and its
    half-filled vbatch run later, and their replies go to whoever is connected then."""
    server = start_server(tick_s=0.05, behaviour=EngineBehaviour(platform="windows"))
    sock = raw_connect(server.port)
    wire.send_message(sock, b"500:vbatch 3")
    wire.send_message(sock, b"501:vset /action/game/pause")
    wire.send_message(sock, b"502:vget /action/game/is_paused")  # the batch lacks one
    sock.close()
    with raw_connect(server.port) as second:
        wire.send_message(second, b"1:vget /unrealcv/version")  # completes the old batch
        replies = [wire.split_reply(wire.receive_message(second))]
        while replies[-1][0] != 1:
            replies.append(wire.split_reply(wire.receive_message(second)))
    ids = [i for i, _ in replies]
    assert set(ids[:-1]) <= {500, 501, 502} and {501, 502} <= set(ids)
    assert dict(replies)[502] == b"true"  # the stale batch ran, for the next client


def test_camera_ids_are_sensor_list_indices(start_server: ServerFactory) -> None:
    """`vset /cameras/spawn` answers the actor's name (CameraHandler::SpawnCamera); an id is
    an index in the sensor list, the pawn's first (SensorBPLib::GetFusionSensorList)."""
    server = start_server(behaviour=EngineBehaviour(build="editor"))
    with raw_connect(server.port) as sock:
        assert ask(sock, 1, "vset /cameras/spawn") == b"FusionCameraActor_11"
        assert ask(sock, 2, "vset /cameras/spawn") == b"FusionCameraActor_12"
        assert ask(sock, 3, "vget /cameras") == b"PawnSensor FusionCameraSensor FusionCameraSensor "
        assert ask(sock, 4, "vset /object/FusionCameraActor_12/location 1 2 3") == b"ok"
        assert ask(sock, 5, "vget /camera/2/location") == b"1.000 2.000 3.000"
        assert ask(sock, 6, "vset /camera/3/location 0 0 0") == b"error Invalid sensor id"
        assert ask(sock, 7, "vset /camera/3/size 64 64") == b"error Argument Invalid"
        assert ask(sock, 8, "vset /camera/2/size 64 48") == b"ok"
        assert ask(sock, 9, "vget /camera/2/size") == b"64 48"
        assert ask(sock, 10, "vget /camera/2/fov") == b"90.000000"
        assert ask(sock, 11, "vset /object/FusionCameraActor_11/destroy") == b"ok"
        assert ask(sock, 12, "vget /camera/1/location") == b"1.000 2.000 3.000"  # ids shifted


def test_a_cooked_build_names_spawned_actors_with_large_numbers(
    start_server: ServerFactory,
) -> None:
    server = start_server(behaviour=EngineBehaviour(build="packaged"))
    with raw_connect(server.port) as sock:
        name = ask(sock, 1, "vset /cameras/spawn").decode()
    assert name.startswith("FusionCameraActor_") and int(name.rsplit("_", 1)[1]) > 2**30


def test_the_pawn_camera_refreshes_only_while_the_game_runs(start_server: ServerFactory) -> None:
    server = start_server()
    with raw_connect(server.port) as sock:
        ask(sock, 1, "vset /camera/0/size 96 64")
        before = ask(sock, 2, "vget /camera/0/lit bmp")
        ask(sock, 3, "vset /action/game/pause")
        ask(sock, 4, "vset /camera/0/rotation -60 45 0")
        assert ask(sock, 5, "vget /camera/0/lit bmp") == before  # paused: the old view
        ask(sock, 6, "vset /action/game/resume")
        assert ask(sock, 7, "vget /camera/0/lit bmp") != before


def test_spawning_finds_only_classes_the_level_loaded(start_server: ServerFactory) -> None:
    """ObjectHandler::Spawn: `FindFirstObjectSafe<UClass>` finds, never loads."""
    server = start_server(loaded_classes=frozenset({RED_CAR}))
    with raw_connect(server.port) as sock:
        assert ask(sock, 1, f"vset /objects/spawn {CAR} a") == (
            f"error Can not find a class with name '{CAR}'".encode()
        )
        assert ask(sock, 2, f"vset /objects/spawn {RED_CAR} b") == b"b"
        assert ask(sock, 3, "vset /objects/spawn BP_Car_red_C c") == b"c"  # the short name too
        assert ask(sock, 4, f"vset /objects/spawn {RED_CAR} b") == (
            b"error Failed to spawn b, object exists."
        )


def test_reusing_a_destroyed_name_before_garbage_collection_crashes_the_engine(
    start_server: ServerFactory,
) -> None:
    """A destroyed actor holds its name until GC; renaming onto it is fatal in Unreal."""
    server = start_server()
    with raw_connect(server.port) as sock:
        ask(sock, 1, f"vset /objects/spawn {RED_CAR} uecity_0")
        ask(sock, 2, "vset /object/uecity_0/destroy")
        wire.send_message(sock, f"3:vset /objects/spawn {RED_CAR} uecity_0".encode())
        with pytest.raises((wire.ConnectionClosed, OSError)):
            wire.receive_message(sock)
    wait_until(lambda: server.crashed is not None)
    assert "uecity_0" in server.crashed


def test_objects_list_every_actor_and_numbers_are_fixed_point(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    with raw_connect(server.port) as sock:
        ask(sock, 1, f"vset /objects/spawn {RED_CAR} car_1")
        names = ask(sock, 2, "vget /objects").decode().split()
        assert {"WorldSettings", "BP_Bush_C_1", "car_1"} <= set(names)
        assert any(n.startswith("PlayerController_") for n in names)
        assert ask(sock, 3, "vset /object/car_1/location 1.5 -2 3") == b"ok"
        assert ask(sock, 4, "vget /object/car_1/location") == b"1.500 -2.000 3.000"
        # `[float]` is ([-+]?\d*[.]?\d+): no exponent, so no handler matches.
        assert ask(sock, 5, "vset /object/car_1/location 1e3 0 0").startswith(
            b"error No handler found"
        )
        assert ask(sock, 6, "vset /object/car_1/color 10 20 30") == b"ok"
        assert parse_colour(ask(sock, 7, "vget /object/car_1/color").decode()) == (10, 20, 30)
        assert ask(sock, 8, "vset /object/car_1/destroy") == b"ok"
        assert ask(sock, 9, "vget /object/car_1/location") == b"error Cannot find object"


def test_vbp_needs_a_console_and_answers_json_whether_or_not_it_ran(
    start_server: ServerFactory, catalog
) -> None:  # type: ignore[no-untyped-def]
    """AliasHandler::VExecWithOutput: a missing function is `Argument Invalid`; an argument
    that does not parse is only logged, and the reply is the same JSON."""
    painted = catalog.model_copy(update={"assets": [
        a.model_copy(update={"paint": "function", "paint_function": "SetPaintColor"})
        for a in catalog.assets
    ]})  # fmt: skip
    for build, expected in (("packaged", b"{}"), ("shipping", b"error No viewport console")):
        server = start_server(engine_catalog=painted, behaviour=EngineBehaviour(build=build))  # type: ignore[arg-type]
        with raw_connect(server.port) as sock:
            ask(sock, 1, f"vset /objects/spawn {CAR} car_1")
            assert ask(sock, 2, "vbp car_1 SetPaintColor 1 0 0").startswith(expected)
            if build == "packaged":
                assert ask(sock, 3, "vbp car_1 SetPaintColor red 0 0") == b"{}"  # not run
                assert ask(sock, 4, "vbp car_1 Explode") == b"error Argument Invalid"
                assert ask(sock, 5, "vbp nobody SetPaintColor 1 0 0") == (
                    b"error Can not find actor with id 'nobody'"
                )
    engine = server.engine
    assert engine.objects["car_1"].paint_rgb == (128, 128, 128)  # shipping: never painted


def test_bmp_is_32_bit_top_down_with_a_count_before_the_pixels(
    start_server: ServerFactory,
) -> None:
    """`FImageUtil::ConvertToBmp`: 54-byte header, biBitCount 32, biHeight −H, then the pixels
    serialised as a TArray (4-byte count first)."""
    server = start_server()
    with raw_connect(server.port) as sock:
        ask(sock, 1, "vset /camera/0/size 40 30")
        data = ask(sock, 2, "vget /camera/0/lit bmp")
        png = ask(sock, 3, "vget /camera/0/lit png")
    assert data[:2] == b"BM" and len(data) == 54 + 4 + 40 * 30 * 4
    fields = (("<I", 10), ("<i", 18), ("<i", 22), ("<H", 28))
    offset, width, height, bits = (struct.unpack_from(f, data, o)[0] for f, o in fields)
    assert (offset, width, height, bits) == (54, 40, -30, 32)
    assert struct.unpack_from("<I", data, 54)[0] == 40 * 30 * 4
    pixels = np.frombuffer(data[58:], np.uint8).reshape(30, 40, 4)
    assert (pixels[..., 3] == 255).all()
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (30, 40, 4)  # PNG is RGBA
    np.testing.assert_array_equal(decoded, pixels)
    # A decoder that trusts bfOffBits (OpenCV) reads every row one pixel off.
    trusting = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert trusting is None or not np.array_equal(trusting, pixels[..., :3])


def test_encode_bmp_layout_for_an_odd_size() -> None:
    bgra = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
    data = encode_bmp(bgra)
    assert data[-60:] == bgra.tobytes() and struct.unpack_from("<i", data, 22)[0] == -3


def test_object_mask_colours_come_back_within_tolerance(start_server: ServerFactory) -> None:
    sock = raw_connect(start_server().port)
    with sock:
        name = ask(sock, 0, "vset /cameras/spawn").decode()
        for i, command in enumerate([
            "vset /camera/1/size 320 240",
            f"vset /object/{name}/location 0 0 2000",
            "vset /camera/1/rotation -89 0 0",
            "vset /objects/spawn /Game/UECity/Vehicles/Variants/BP_Bus_red.BP_Bus_red_C bus",
            "vset /object/bus/color 200 40 120",
        ]):  # fmt: skip
            assert not ask(sock, i + 1, command).startswith(b"error")
        mask = cv2.imdecode(
            np.frombuffer(ask(sock, 9, "vget /camera/1/object_mask png"), np.uint8),
            cv2.IMREAD_COLOR,
        )[:, :, ::-1]
    colours = {tuple(c) for c in mask.reshape(-1, 3).tolist()} - {(0, 0, 0)}
    assert len(colours) == 1
    (colour,) = colours
    assert all(abs(a - b) <= 2 for a, b in zip(colour, (200, 40, 120), strict=True))


def run_frame(sock: socket.socket, server: SimServer, batch: int, first_id: int) -> set[int]:
    """Send `vbatch batch` and `batch` requests; the ticks they were dequeued and ran in."""
    start = len(server.request_log)
    wire.send_message(sock, f"{first_id}:vbatch {batch}".encode())
    for i in range(batch):
        wire.send_message(sock, f"{first_id + 1 + i}:vget /action/game/is_paused".encode())
    for _ in range(batch + 1):
        wire.receive_message(sock)
    return {e.tick for e in server.request_log[start + 1 :]}


def test_at_most_32_requests_per_tick_and_a_batch_runs_in_the_tick_it_completes(
    start_server: ServerFactory,
) -> None:
    """UnrealcvServer::ProcessPendingRequest: MaxRequestsPerTick = 32 (the vbatch line counts);
    a batch collects across ticks and runs when its N-th request is dequeued."""
    server = start_server(tick_s=0.01)
    with raw_connect(server.port) as sock:
        for i in range(40):  # pipelined without vbatch: 40 requests need two ticks
            wire.send_message(sock, f"{i}:vget /cameras".encode())
        for _ in range(40):
            wire.receive_message(sock)
        assert len({e.tick for e in server.request_log}) >= 2
        ran = run_frame(sock, server, 104, 1000)
        assert len(ran) == 1  # 105 requests dequeued over 4 ticks, run together in the last
        wire.send_message(sock, b"3000:vbatch 104")
        started = server.ticks
        for i in range(104):
            wire.send_message(sock, f"{3001 + i}:vget /cameras".encode())
        for _ in range(105):
            wire.receive_message(sock)
        assert server.ticks - started >= 3  # ⌈105 / 32⌉ = 4 ticks of dequeuing


def test_a_legacy_build_ignores_vbatch_and_has_no_cap(start_server: ServerFactory) -> None:
    server = start_server(tick_s=0.02, behaviour=EngineBehaviour(legacy_vbatch=True))
    with raw_connect(server.port) as sock:
        wire.send_message(sock, b"1:vbatch 3")
        wire.send_message(sock, b"2:vset /action/game/pause")
        reply = [wire.split_reply(wire.receive_message(sock)) for _ in range(2)]
        assert reply == [(1, b"ok"), (2, b"ok")]  # ran without waiting for the batch
        started = len(server.request_log)
        blob = b"".join(wire.encode_message(f"{10 + i}:vget /cameras".encode()) for i in range(100))
        sock.sendall(blob)
        for _ in range(100):
            wire.receive_message(sock)
        assert len({e.tick for e in server.request_log[started:]}) <= 2  # no 32 cap


def test_injected_drop_then_the_socket_on_linux(start_server: ServerFactory) -> None:
    server = start_server(faults=FaultPlan(drop_at_requests={2}))
    sock = raw_connect(server.port)
    with sock:
        ask(sock, 0, "vget /cameras")
        wire.send_message(sock, b"1:vget /cameras")
        with pytest.raises(wire.ConnectionClosed):
            wire.receive_message(sock)
    wait_until(server.socket_path.exists)
    with unix_connect(server.socket_path) as again:
        assert ask(again, 5, "vget /cameras") == b"PawnSensor "
