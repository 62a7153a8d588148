"""The `unrealcv` backend against the faithful `serve-sim` over real TCP and Unix sockets, with
the real PyPI client opening them. Each test names the real-engine behaviour it depends on."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import unrealcv

from tests.uecity.unreal.conftest import ServerFactory, open_session
from tests.uecity.unreal.ring_scene import instance_ids, ring_camera, ring_worlds
from uecity.core.errors import ExternalToolError, SpecError
from uecity.render.sim import SimRenderer
from uecity.traffic.demand import ActorSpec
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal import wire
from uecity.unreal.backend import UnrealCvOptions, UnrealCvRenderer, bmp_pixels, decode_image
from uecity.unreal.catalog import AssetCatalog
from uecity.unreal.connection import EngineCommandError
from uecity.unreal.emulator.engine import EngineBehaviour, encode_bmp
from uecity.unreal.emulator.server import FaultPlan, SimServer
from uecity.unreal.session import EngineSession

WINDOWS = EngineBehaviour(platform="windows")


def renderer_on(
    server: SimServer, catalog: AssetCatalog, options: UnrealCvOptions | None = None
) -> UnrealCvRenderer:
    return UnrealCvRenderer(ring_camera(), open_session(server.port), catalog, options)


def test_masks_equal_the_sim_backends(
    start_server: ServerFactory, network: Network, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(3, 12)
    ids = instance_ids(states)
    renderer = renderer_on(server, catalog)
    sim = SimRenderer(ring_camera(), network, np.random.default_rng(0))
    try:
        for world in states:
            ours, reference = renderer.render(world, ids), sim.render(world, ids)
            assert ours.image_bgr.shape == (180, 320, 3)
            np.testing.assert_array_equal(ours.instance_mask, reference.instance_mask)
            assert len(np.unique(ours.instance_mask)) > 5
    finally:
        renderer.close()


def test_the_camera_id_comes_from_the_sensor_list(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    """The spawn reply is `FusionCameraActor_<N>` (no id in it); other cameras come first."""
    server = start_server()
    other = open_session(server.port)
    for _ in range(3):
        other.connection.request("vset /cameras/spawn")  # e.g. the level's own cameras
    other.connection.close()  # the cameras stay in the engine
    session = open_session(f"unix:{server.socket_path}")
    renderer = UnrealCvRenderer(ring_camera(), session, catalog)
    assert renderer.camera_id == 4  # the pawn is 0, then three cameras, then ours
    assert renderer._camera_name is not None and renderer._camera_name.startswith("FusionCamera")
    frame = renderer.render(ring_worlds(1, 5)[0], instance_ids(ring_worlds(1, 5)))
    assert frame.image_bgr.shape == (180, 320, 3)
    renderer.close()
    assert renderer._camera_name not in server.engine.objects  # destroyed with the video
    assert len(server.engine.sensors()) == 4


def test_each_frame_is_pause_changed_poses_capture_resume(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(2, 6)
    still = WorldState(2, 0.2, states[1].actors)  # a frame where nothing moved
    renderer = renderer_on(server, catalog)
    setup = len(server.request_log)
    for world in [*states, still]:
        renderer.render(world, instance_ids(states))
    renderer.close()
    commands = [e.command for e in server.request_log[setup:]]
    batches = [i for i, c in enumerate(commands) if c.startswith("vbatch")]
    frames = [i for i in batches if commands[i + 1] == "vset /action/game/pause"]
    assert len(frames) == 3
    spawns = [i for i in batches if i not in frames]
    assert len(spawns) == 1 and spawns[0] < frames[0]  # the first frame spawns first
    poses_per_frame = []
    for start in frames:
        frame = commands[start + 1 : start + 1 + int(commands[start].split()[1])]
        assert frame[0] == "vset /action/game/pause" and frame[-1] == "vset /action/game/resume"
        captures = [i for i, c in enumerate(frame) if "/lit " in c or "/object_mask " in c]
        poses = [i for i, c in enumerate(frame) if "/location " in c or "/rotation " in c]
        assert len(captures) == 2 and (not poses or max(poses) < min(captures))
        poses_per_frame.append(len(poses))
    assert poses_per_frame == [12, 12, 0]  # only what changed: nothing, the third time


def test_actor_names_carry_a_run_token_and_are_never_reused(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    """A destroyed actor holds its name until garbage collection (renaming onto it crashes the
    engine): two runs on one engine, and a reconnection, never spawn a name twice."""
    server = start_server(behaviour=WINDOWS, faults=FaultPlan(drop_at_requests={60}))
    states = ring_worlds(3, 6)
    ids = instance_ids(states)
    for _run in range(2):
        renderer = renderer_on(server, catalog)
        for world in states:
            renderer.render(world, ids)
        renderer.close()
        renderer.session.close()  # the run is over: the next one connects anew
    spawned = [c.split()[-1] for c in (e.command for e in server.request_log)
               if c.startswith("vset /objects/spawn")]  # fmt: skip
    assert len(spawned) == len(set(spawned)) > 12  # re-spawned after the drop, new names
    tokens = {name.split("_")[1] for name in spawned}
    assert len(tokens) == 2 and all(name.startswith("uecity_") for name in spawned)
    assert server.crashed is None


def test_batches_fit_the_32_requests_per_tick_cap(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    """The engine dequeues ≤ 32 requests per tick: a 50-actor frame (105 requests) is dequeued
    over ⌈105/32⌉ = 4 ticks and runs in the last; unbatched, one tick per request."""
    states = ring_worlds(2, 50)
    ids = instance_ids(states)
    spans = {}
    for batched in (True, False):
        server = start_server(tick_s=0.002)
        renderer = renderer_on(server, catalog, UnrealCvOptions(batched=batched))
        renderer.render(states[0], ids)  # spawns
        first = len(server.request_log)
        renderer.render(states[1], ids)  # poses only
        frame = server.request_log[first:]
        ran = {e.tick for e in frame if not e.command.startswith("vbatch")}
        spans[batched] = (frame[-1].tick - frame[0].tick + 1, len(ran), len(frame))
        renderer.close()
    dequeued, ran, requests = spans[True]
    assert requests == 105 and ran == 1  # run together, in one tick
    assert dequeued >= 4  # ⌈105 / 32⌉ ticks to dequeue them
    assert spans[False][0] >= 100  # one tick per synchronous request


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


@pytest.mark.parametrize(
    ("platform", "restart"), [("windows", False), ("windows", True), ("linux", False)]
)
@pytest.mark.parametrize("drive", [one_at_a_time, pipelined])
def test_dropped_connections_lose_no_frame(
    start_server: ServerFactory, catalog: AssetCatalog, platform: str, restart: bool,
    drive: Callable,
) -> None:  # fmt: skip
    """Windows: TCP again, stale replies skipped; Linux (same host): the Unix socket."""
    states = ring_worlds(8, 10)
    ids = instance_ids(states)
    clean = renderer_on(start_server(), catalog)
    expected = [clean.render(w, ids) for w in states]
    clean.close()

    faults = FaultPlan(drop_at_requests={40, 160, 280}, restart_engine_on_drop=restart)
    server = start_server(faults=faults, behaviour=EngineBehaviour(platform=platform))  # type: ignore[arg-type]
    renderer = renderer_on(server, catalog)
    got = list(drive(renderer, states, ids))
    renderer.close()
    assert renderer.reconnections >= 2
    if platform == "linux":
        assert renderer.connection.transport == "unix"
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a.instance_mask, b.instance_mask)
        np.testing.assert_array_equal(a.image_bgr, b.image_bgr)
    live = [n for n in server.engine.objects if n.startswith(("uecity_", "FusionCameraActor"))]
    assert live == []  # nothing left behind, stale spawns included


def test_drops_while_reconnecting_are_more_attempts_never_an_escape(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    # Dropped at frame 0, then during each step of the reconnection: flush, destroy, camera.
    steps = {"vget /unrealcv/status": 1, "vset /object/uecity_": 1, "vget /cameras": 1}
    faults = FaultPlan(drop_at_requests={30}, drop_on=steps)
    server = start_server(behaviour=WINDOWS, faults=faults)
    renderer = renderer_on(server, catalog, UnrealCvOptions(max_reconnects=8))
    states = ring_worlds(3, 6)
    frames = [renderer.render(w, instance_ids(states)) for w in states]
    renderer.close()
    assert len(frames) == 3 and renderer.reconnections >= 3 and not any(steps.values())
    server = start_server(behaviour=WINDOWS, faults=FaultPlan(drop_every=9))
    renderer = renderer_on(server, catalog)
    with pytest.raises(ExternalToolError, match="could not resume after 5 reconnections"):
        renderer.render(states[0], instance_ids(states))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_stale_replies_after_a_reconnect_are_skipped(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    """Windows answers a dropped client's queued requests to the next client; the PyPI client
    asserts on such a reply, our connection skips it."""
    server = start_server(tick_s=0.05, behaviour=WINDOWS)

    def leave_requests_behind() -> None:
        session = open_session(server.port)
        sock = session.connection._sock
        assert sock is not None
        sock.sendall(
            b"".join(wire.encode_message(f"{7 + i}:vget /cameras".encode()) for i in range(300))
        )  # fmt: skip  (10 ticks of dequeuing)
        session.connection.close()

    leave_requests_behind()
    client = unrealcv.Client(("127.0.0.1", server.port))
    client._command_capabilities_checked = True  # its `vget /unrealcv/help` probe waits 15 s
    try:
        client.connect(timeout=5)
        reply = client.request("vget /unrealcv/status", timeout=2)
    except Exception as error:
        reply = error
    finally:
        client.disconnect()
    assert not str(reply).startswith("Is Listening")  # the PyPI client got it wrong

    leave_requests_behind()
    session = open_session(server.port)
    assert str(session.connection.request("vget /unrealcv/status")).startswith("Is Listening")
    assert session.connection.foreign_replies > 0


def test_a_linux_engine_lost_over_tcp_says_to_restart_it(
    start_server: ServerFactory, catalog: AssetCatalog, tmp_path: Path
) -> None:
    """A Linux engine serves one TCP session per process; off its host (no socket to hand over
    to) a lost connection cannot be resumed."""
    server = start_server(faults=FaultPlan(drop_at_requests={40}), socket_folder=tmp_path)
    session = open_session(server.port, connect_timeout_s=2.0)
    renderer = UnrealCvRenderer(ring_camera(), session, catalog)
    states = ring_worlds(3, 6)
    with pytest.raises(ExternalToolError, match="Restart the engine, then run the same command "
                       "with --resume") as error:  # fmt: skip
        for world in states:
            renderer.render(world, instance_ids(states))
    assert "one TCP session per process" in str(error.value)


def test_a_unix_endpoint_after_the_tcp_session(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    first = open_session(server.port)  # the status check a user ran uses the TCP session up
    first.close()
    session = open_session(f"unix:{server.socket_path}")
    renderer = UnrealCvRenderer(ring_camera(), session, catalog)
    assert (
        renderer.render(ring_worlds(1, 3)[0], {"a0": 0, "a1": 1, "a2": 2}).instance_mask.max() >= 0
    )
    renderer.close()
    session.close()
    handed_over = open_session(server.port)  # a TCP endpoint on this host hands over too
    assert handed_over.connection.transport == "unix"


def test_closing_with_a_frame_in_flight_cleans_up(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    states = ring_worlds(2, 4)
    ids = instance_ids(states)
    renderer = renderer_on(server, catalog)
    renderer.render(states[0], ids)
    renderer.start(states[1], ids)  # never waited for: the video stopped
    names = [*renderer._names.values(), renderer._camera_name]
    renderer.close()
    commands = [e.command for e in server.request_log]
    assert commands[-6:] == [*(f"vset /object/{n}/destroy" for n in names),
                             "vset /action/game/resume"]  # fmt: skip


def test_a_lost_engine_ends_in_a_clear_error(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    server = start_server()
    renderer = UnrealCvRenderer(
        ring_camera(), open_session(server.port, connect_timeout_s=0.5), catalog,
        UnrealCvOptions(max_reconnects=1),
    )  # fmt: skip
    server.stop()
    with pytest.raises(ExternalToolError, match="lost the Unreal Engine at frame 0"):
        renderer.render(ring_worlds(1, 3)[0], {"a0": 0, "a1": 1, "a2": 2})


def test_an_object_without_an_asset_is_refused(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    renderer = renderer_on(start_server(), catalog)
    spec = ActorSpec("t", "vehicle", "tram", "red", (1, 2, 3), (20.0, 2.5, 3.5))
    world = WorldState(0, 0.0, (ActorState("t", spec, 0, 0, 0, 0, 0, 0, "e"),))
    with pytest.raises(SpecError, match="no asset for vehicle/tram"):
        renderer.render(world, {"t": 0})
    renderer.close()


def test_a_class_the_level_did_not_load_is_a_clear_error(
    start_server: ServerFactory, catalog: AssetCatalog
) -> None:
    every = {path for asset in catalog.assets for path in asset.classes()}
    server = start_server(loaded_classes=frozenset(p for p in every if "BP_Bus" not in p))
    renderer = renderer_on(server, catalog)
    with pytest.raises(EngineCommandError, match="the level must reference every class"):
        for world in ring_worlds(2, 6):  # actor 1 is a bus
            renderer.render(world, instance_ids(ring_worlds(2, 6)))


def test_unpainted_actors_are_flagged(
    start_server: ServerFactory, catalog: AssetCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    """`vbp` needs a console (not in Shipping) and answers alike whether it painted or not."""
    by_function = catalog.model_copy(update={"assets": [
        a.model_copy(update={"paint": "function", "paint_function": "SetPaintColor"})
        for a in catalog.assets
    ]})  # fmt: skip
    states = ring_worlds(2, 8)
    for build, paint, flagged in (("shipping", by_function, True), ("packaged", by_function,
                                  False), ("shipping", catalog, False)):  # fmt: skip
        caplog.clear()
        server = start_server(engine_catalog=paint, behaviour=EngineBehaviour(build=build))  # type: ignore[arg-type]
        renderer = renderer_on(server, paint)
        with caplog.at_level(logging.WARNING):
            for world in states:
                renderer.render(world, instance_ids(states))
            renderer.close()
        assert bool(renderer.paint.unpainted) is flagged, (build, renderer.paint.unpainted)
        assert any("came out unpainted" in r.message for r in caplog.records) is flagged


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (321, 181), (17, 5)])
def test_the_plugins_bmp_is_read_from_its_last_4wh_bytes(width: int, height: int) -> None:
    bgra = np.random.default_rng(0).integers(0, 255, (height, width, 4), dtype=np.uint8)
    data = encode_bmp(bgra)
    np.testing.assert_array_equal(bmp_pixels(data), bgra)
    np.testing.assert_array_equal(decode_image(data, "lit", (width, height)), bgra[..., :3])
    bottom_up = bytearray(data)
    struct.pack_into("<i", bottom_up, 22, height)  # a positive height: rows bottom-up
    np.testing.assert_array_equal(bmp_pixels(bytes(bottom_up)), bgra[::-1])
    np.testing.assert_array_equal(decode_image(bytes(bottom_up), "lit"), bgra[::-1, :, :3])
    with pytest.raises(ExternalToolError, match="truncated"):
        bmp_pixels(data[: 54 + 10])
    with pytest.raises(ExternalToolError, match="captured"):
        decode_image(data, "lit", (width + 1, height))
    assert bmp_pixels(cv2.imencode(".png", bgra)[1].tobytes()) is None


def test_a_bmp_of_another_layout_is_refused() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    with pytest.raises(ExternalToolError, match="at 24 bits"):
        bmp_pixels(cv2.imencode(".bmp", image)[1].tobytes(), "lit")


def test_sessions_of_two_runs_use_different_tokens(start_server: ServerFactory) -> None:
    server = start_server(behaviour=WINDOWS)
    a = open_session(server.port)
    a.close()
    b: EngineSession = open_session(server.port)
    assert a.token != b.token and a.new_name() != b.new_name()
