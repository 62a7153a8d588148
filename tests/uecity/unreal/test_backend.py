"""The `unrealcv` backend against `serve-sim` over a real socket with the real PyPI client."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from uecity.unreal.sim_server import FaultPlan

from tests.uecity.unreal.conftest import ServerFactory
from tests.uecity.unreal.ring_scene import instance_ids, ring_camera, ring_worlds
from uecity.errors import ExternalToolError, SpecError
from uecity.render.sim import SimRenderer
from uecity.traffic.demand import ActorSpec
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal.backend import UnrealCvOptions, UnrealCvRenderer
from uecity.unreal.catalog import AssetCatalog
from uecity.unreal.connection import Endpoint, UnrealCvConnection


def connect(port: int) -> UnrealCvConnection:
    return UnrealCvConnection(Endpoint("127.0.0.1", port), connect_timeout_s=5.0,
                              request_timeout_s=10.0)  # fmt: skip


def test_masks_equal_the_sim_backends(
    start_server: ServerFactory, network: Network, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(3, 12)
    ids = instance_ids(states)
    renderer = UnrealCvRenderer(ring_camera(), connect(server.port), catalog)
    sim = SimRenderer(ring_camera(), network, np.random.default_rng(0))
    try:
        for world in states:
            ours, reference = renderer.render(world, ids), sim.render(world, ids)
            assert ours.image_bgr.shape == (180, 320, 3)
            np.testing.assert_array_equal(ours.instance_mask, reference.instance_mask)
            assert len(np.unique(ours.instance_mask)) > 5
    finally:
        renderer.close()


def test_each_frame_is_pause_poses_capture_resume(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(2, 6)
    renderer = UnrealCvRenderer(ring_camera(), connect(server.port), catalog)
    setup = len(server.request_log)
    for world in states:
        renderer.render(world, instance_ids(states))
    renderer.close()
    commands = [e.command for e in server.request_log[setup:]]
    batches = [i for i, c in enumerate(commands) if c.startswith("vbatch")]
    frames = [i for i in batches if commands[i + 1] == "vset /action/game/pause"]
    assert len(frames) == 2
    spawns = [i for i in batches if i not in frames]
    assert len(spawns) == 1 and spawns[0] < frames[0]  # the first frame spawns first
    for start in frames:
        frame = commands[start + 1 : start + 1 + int(commands[start].split()[1])]
        kinds = [c.split()[1].split("/")[-1] if c.startswith("vset") else c.split()[1]
                 for c in frame]  # fmt: skip
        assert frame[0] == "vset /action/game/pause"
        assert frame[-1] == "vset /action/game/resume"
        captures = [i for i, c in enumerate(frame) if "/lit " in c or "/object_mask " in c]
        poses = [i for i, k in enumerate(kinds) if k in ("location", "rotation")]
        assert len(captures) == 2 and len(poses) == 12
        assert max(poses) < min(captures)


def test_batching_keeps_a_50_actor_frame_within_three_ticks(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    states = ring_worlds(2, 50)
    ids = instance_ids(states)
    ticks = {}
    for batched in (True, False):
        server = start_server(tick_s=0.002)
        renderer = UnrealCvRenderer(
            ring_camera(), connect(server.port), catalog, UnrealCvOptions(batched=batched)
        )
        renderer.render(states[0], ids)  # spawns
        first = len(server.request_log)
        renderer.render(states[1], ids)  # poses only
        frame = server.request_log[first:]
        ticks[batched] = frame[-1].tick - frame[0].tick + 1
        renderer.close()
    assert ticks[True] <= 3
    assert ticks[False] >= 100  # one tick per synchronous request: 2 per actor + 4


def pipelined(renderer: UnrealCvRenderer, worlds: list[WorldState], ids: dict[str, int]):  # type: ignore[no-untyped-def]
    """Frames rendered as `generate` drives the backend: frame n + 1 is sent before frame n is
    waited for."""
    pending = renderer.start(worlds[0], ids)
    for upcoming in [*worlds[1:], None]:
        current = pending
        if upcoming is not None:
            pending = renderer.start(upcoming, ids)
            if renderer.connection.connected:
                assert renderer.connection.outstanding >= 2  # both captures in flight
        yield current.result()


def one_at_a_time(renderer: UnrealCvRenderer, worlds: list[WorldState], ids: dict[str, int]):  # type: ignore[no-untyped-def]
    for world in worlds:
        yield renderer.render(world, ids)


@pytest.mark.parametrize("restart", [False, True])
@pytest.mark.parametrize("drive", [one_at_a_time, pipelined])
def test_dropped_connections_lose_no_frame(
    start_server: ServerFactory, catalog: AssetCatalog, restart: bool, drive: Callable
) -> None:
    states = ring_worlds(8, 10)
    ids = instance_ids(states)
    clean_server = start_server()
    clean = UnrealCvRenderer(ring_camera(), connect(clean_server.port), catalog)
    expected = [clean.render(w, ids) for w in states]
    clean.close()

    faults = FaultPlan(drop_at_requests={30, 150, 260}, restart_engine_on_drop=restart)
    server = start_server(faults=faults)
    renderer = UnrealCvRenderer(ring_camera(), connect(server.port), catalog)
    got = list(drive(renderer, states, ids))
    renderer.close()
    assert renderer.reconnections >= 2
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a.instance_mask, b.instance_mask)
        np.testing.assert_array_equal(a.image_bgr, b.image_bgr)


def test_closing_with_a_frame_in_flight_cleans_up(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(2, 4)
    ids = instance_ids(states)
    renderer = UnrealCvRenderer(ring_camera(), connect(server.port), catalog)
    renderer.render(states[0], ids)
    renderer.start(states[1], ids)  # never waited for: the video stopped
    renderer.close()
    commands = [e.command for e in server.request_log]
    assert commands[-5:] == [
        *(f"vset /object/uecity_{i}/destroy" for i in range(4)),
        "vset /action/game/resume",
    ]


def test_a_lost_engine_ends_in_a_clear_error(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    renderer = UnrealCvRenderer(
        ring_camera(), connect(server.port), catalog, UnrealCvOptions(max_reconnects=1)
    )
    renderer.connection.connect_timeout_s = 0.5
    server.stop()
    with pytest.raises(ExternalToolError, match="lost the Unreal Engine at frame 0"):
        renderer.render(ring_worlds(1, 3)[0], {"a0": 0, "a1": 1, "a2": 2})


def test_an_object_without_an_asset_is_refused(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    renderer = UnrealCvRenderer(ring_camera(), connect(server.port), catalog)
    spec = ActorSpec("t", "vehicle", "tram", "red", (1, 2, 3), (20.0, 2.5, 3.5))
    world = WorldState(0, 0.0, (ActorState("t", spec, 0, 0, 0, 0, 0, 0, "e"),))
    with pytest.raises(SpecError, match="no asset for vehicle/tram"):
        renderer.render(world, {"t": 0})
    renderer.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (321, 181), (17, 5)])
def test_bmp_pixels_are_read_in_place_of_decoding(width: int, height: int) -> None:
    import cv2

    from uecity.unreal.backend import _bmp_view

    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    data = cv2.imencode(".bmp", image)[1].tobytes()
    np.testing.assert_array_equal(_bmp_view(data), image)
    assert _bmp_view(data[:-10]) is None  # truncated: left to OpenCV, which reports it
    assert _bmp_view(cv2.imencode(".png", image)[1].tobytes()) is None
    grey = cv2.imencode(".bmp", image[:, :, 0])[1].tobytes()  # 8-bit palette BMP
    assert _bmp_view(grey) is None
