"""Benchmark of the Unreal bridge against the faithful `serve-sim` (issues 4 and 12).

1. Overhead: per-frame time of our `unrealcv` backend (planning the commands, capture, image
   decoding, decoding the object mask into instance ids) against a minimal loop of raw
   `unrealcv.Client` calls that fetches the same images for the same poses: the same commands
   and batching, and the two images decoded into arrays (the least a user of the bare client
   does to have images), in the same run and against the same server. Target: ratio ≤ 1.10.
   Our backend is timed twice: as `uecity generate` drives it (frame n + 1 is sent before
   frame n is finished: the time between finished frames), and one `render` call at a time.
2. Engine ticks per captured frame with 50 actors under the real plugin's cap of 32 requests
   dequeued per tick: batched (`vbatch`, as builds from 2026-03-04 run it), a legacy build
   (`vbatch` ignored, no cap) and the unbatched loop of synchronous requests.

The server runs in its own process as `uecity serve-sim` does (a Windows packaged build: TCP
clients one after another; 16 ms ticks, ≤ 32 requests per tick); the three loops take turns on
it, each on a connection of its own, in an order that rotates from round to round. Actor names
are never reused on the engine (each loop has its own run token), as on a real one.

    .venv/bin/python benchmarks/bench_unreal.py [--frames 30] [--rounds 3] [--width 1280]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import multiprocessing
import secrets
import socket
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import unrealcv

from uecity.camera import Camera
from uecity.traffic.simulation import WorldState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's tests/

from tests.uecity.unreal.ring_scene import ring_camera, ring_worlds
from uecity.unreal.backend import UnrealCvOptions, UnrealCvRenderer
from uecity.unreal.catalog import load_catalog
from uecity.unreal.connection import Endpoint, UnrealCvConnection
from uecity.unreal.emulator.engine import EngineBehaviour, SimEngine
from uecity.unreal.emulator.server import SimServer
from uecity.unreal.session import EngineSession

WINDOWS = EngineBehaviour(platform="windows", build="packaged")


def session(port: int) -> EngineSession:
    opened = EngineSession(UnrealCvConnection(Endpoint("127.0.0.1", port)))
    opened.connection.connect()
    return opened


def serve(port: int, tick_s: float, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    from uecity.scene.spec import IntersectionSpec
    from uecity.traffic.network import build_network

    network = build_network(IntersectionSpec(), Path(tempfile.mkdtemp(prefix="bench-unreal-")))
    catalog = load_catalog()
    server = SimServer(lambda: SimEngine(network, catalog, WINDOWS), "127.0.0.1", port,
                       tick_s=tick_s)  # fmt: skip
    server.start()
    ready.set()  # type: ignore[attr-defined]
    server.serve_forever()


class Server:
    """`serve-sim` in a child process, so that it does not share our interpreter's lock."""

    def __init__(self, tick_s: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(target=serve, args=(self.port, tick_s, ready))
        self.process.start()
        if not ready.wait(60):
            raise RuntimeError("serve-sim did not start")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join()


def ours(port: int, camera: Camera, worlds: list[WorldState], ids: dict[str, int],
         loop: Callable[[UnrealCvRenderer, list[WorldState], dict[str, int]], list[float]]
         ) -> list[float]:  # fmt: skip
    opened = session(port)
    renderer = UnrealCvRenderer(camera, opened, load_catalog(), UnrealCvOptions())
    times = loop(renderer, worlds, ids)
    renderer.close()
    opened.close()
    return times


def ours_pipelined(renderer: UnrealCvRenderer, worlds: list[WorldState], ids: dict[str, int]
                   ) -> list[float]:  # fmt: skip
    """Our backend as `uecity generate` drives it (frame n + 1 is sent before frame n is
    finished); the time between finished frames."""
    finished = [time.perf_counter()]
    pending = renderer.start(worlds[0], ids)
    for upcoming in [*worlds[1:], None]:
        current = pending
        if upcoming is not None:
            pending = renderer.start(upcoming, ids)
        current.result()
        finished.append(time.perf_counter())
    return np.diff(finished).tolist()


def ours_one_at_a_time(renderer: UnrealCvRenderer, worlds: list[WorldState],
                       ids: dict[str, int]) -> list[float]:  # fmt: skip
    times = []
    for world in worlds:
        start = time.perf_counter()
        renderer.render(world, ids)
        times.append(time.perf_counter() - start)
    return times


def raw(port: int, token: str, setup: list[str], frames: list[list[list[str]]],
        cleanup: list[str]) -> list[float]:  # fmt: skip
    """The minimal loop: the same commands through the bare client, images decoded (under a
    fresh name token, and the camera's id from the sensor list, as a careful user would)."""
    fresh = secrets.token_hex(4)
    client = unrealcv.Client(("127.0.0.1", port))
    deadline = time.monotonic() + 10  # the server may not have seen the last loop hang up yet
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("unrealcv").setLevel(logging.CRITICAL)
        while not client.connect(timeout=2):
            if time.monotonic() > deadline:
                raise RuntimeError("serve-sim refused the raw client")
            time.sleep(0.1)
    camera = client.request("vset /cameras/spawn")
    cid = len(client.request("vget /cameras").split()) - 1

    def mine(commands: list[str]) -> list[str]:
        return [c.replace(token, fresh).replace("/camera/1/", f"/camera/{cid}/") for c in commands]

    client.request_batch(mine(setup))
    times = []
    for changes, commands in ((mine(a), mine(b)) for a, b in frames):
        start = time.perf_counter()
        if changes:
            client.request_batch([f"vbatch {len(changes)}", *changes])
        replies = client.request_batch([f"vbatch {len(commands)}", *commands])
        for reply in replies[-3:-1]:
            image = cv2.imdecode(np.frombuffer(reply, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None
        times.append(time.perf_counter() - start)
    client.request_batch([*mine(cleanup), f"vset /object/{camera}/destroy"])
    client.disconnect()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--actors", type=int, default=50)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    camera = ring_camera(args.width, args.height)
    worlds = ring_worlds(args.frames + 1, args.actors)
    ids = {a.sumo_id: i for i, a in enumerate(worlds[0].actors)}

    times: dict[str, list[float]] = {"pipelined": [], "one at a time": [], "raw": []}
    with Server(0.016) as server:  # one engine for every loop, each loop on a new connection
        planner = session(server.port)
        renderer = UnrealCvRenderer(camera, planner, load_catalog(), UnrealCvOptions())
        # The raw loop replays exactly the commands our backend sends for these poses.
        raw_frames = []
        for world in worlds:
            plan = renderer.frame_commands(world, ids)
            renderer._spawned, renderer._names, renderer._poses = (
                plan.spawned,
                plan.names,
                plan.poses,
            )
            raw_frames.append([plan.changes, plan.capture])
        assert renderer.camera_id == 1
        raw_setup = renderer.camera_commands(1)
        destroy = [c for c in renderer.close_commands() if "FusionCamera" not in c]
        renderer._spawned, renderer._names = {}, {}
        renderer.close()
        planner.close()
        token = planner.token
        loops = {
            "pipelined": lambda: ours(server.port, camera, worlds, ids, ours_pipelined),
            "one at a time": lambda: ours(server.port, camera, worlds, ids, ours_one_at_a_time),
            "raw": lambda: raw(server.port, token, raw_setup, raw_frames, destroy),
        }
        for round_ in range(args.rounds):  # the order rotates, so drifts weigh on all alike
            labels = list(loops)
            for label in labels[round_ % 3 :] + labels[: round_ % 3]:
                times[label] += loops[label]()[1:]  # frame 0 spawns the actors
    ms = {label: statistics.median(t) * 1e3 for label, t in times.items()}
    mean = {label: statistics.mean(t) * 1e3 for label, t in times.items()}
    print(
        f"frames {args.width}x{args.height}, {args.actors} actors, {len(times['raw'])} timed "
        "frames per loop, serve-sim with 16 ms ticks"
    )
    print("                                    median      mean  ms/frame")
    print(f"our backend, as generate runs it   {ms['pipelined']:7.1f}   {mean['pipelined']:7.1f}")
    print(f"our backend, one frame at a time   {ms['one at a time']:7.1f}   "
          f"{mean['one at a time']:7.1f}")  # fmt: skip
    print(f"raw client loop                    {ms['raw']:7.1f}   {mean['raw']:7.1f}")
    for label in ("pipelined", "one at a time"):
        print(
            f"overhead ratio, {label:13s}      {ms[label] / ms['raw']:7.3f}   "
            f"{mean[label] / mean['raw']:7.3f}   (target <= 1.10)"
        )

    # Ticks per captured frame from the server's request log (in-process): the ticks from the
    # first request of the frame's capture being dequeued to the last one run.
    from uecity.scene.spec import IntersectionSpec
    from uecity.traffic.network import build_network

    network = build_network(IntersectionSpec(), Path(tempfile.mkdtemp(prefix="bench-unreal-")))
    catalog = load_catalog()
    small = ring_camera(320, 180)
    for label, behaviour, batched in (
        ("batched, 32 per tick", WINDOWS, True),
        ("batched, legacy build", EngineBehaviour("windows", "packaged", legacy_vbatch=True), True),
        ("unbatched (sync)", WINDOWS, False),
    ):
        server = SimServer(lambda b=behaviour: SimEngine(network, catalog, b), "127.0.0.1", 0,
                           tick_s=0.016)  # fmt: skip
        server.start()
        opened = session(server.port)
        renderer = UnrealCvRenderer(small, opened, catalog, UnrealCvOptions(batched=batched))
        renderer.render(worlds[0], ids)
        ticks = []
        for world in worlds[1:4]:
            first = len(server.request_log)
            renderer.render(world, ids)
            frame = server.request_log[first:]
            ticks.append(frame[-1].tick - frame[0].tick + 1)
        renderer.close()
        opened.close()
        server.stop()
        print(
            f"ticks per frame, {label:22s} {statistics.mean(ticks):6.1f}   "
            f"({len(frame)} requests per frame; ⌈{len(frame)}/32⌉ = {-(-len(frame) // 32)})"
        )


if __name__ == "__main__":
    main()
