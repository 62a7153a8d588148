"""Benchmark of the Unreal bridge against `serve-sim` (issue 4's two targets).

1. Overhead: per-frame time of our `unrealcv` backend (planning the commands, capture, image
   decoding, decoding the object mask into instance ids) against a minimal loop of raw
   `unrealcv.Client` calls that fetches the same images for the same poses: the same commands
   and batching, and the two images decoded into arrays (the least a user of the bare client
   does to have images), in the same run and against the same server. Target: ratio ≤ 1.10.
   Our backend is timed twice: as `uecity generate` drives it (frame n + 1 is sent before
   frame n is finished: the time between finished frames), and one `render` call at a time.
2. Engine ticks per captured frame with 50 actors: batched (`vbatch`) against the unbatched loop
   of synchronous requests. Target: ≤ 3 batched.

The server runs in its own process, with the engine's timing (16 ms ticks, ≤ 32 requests per
tick), as `uecity serve-sim` does; the three loops take turns on it, each on a connection of
its own, in an order that rotates from round to round.

    .venv/bin/python benchmarks/bench_unreal.py [--frames 30] [--rounds 3] [--width 1280]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import multiprocessing
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


def serve(port: int, tick_s: float, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    from uecity.unreal.sim_engine import SimEngine
    from uecity.unreal.sim_server import SimServer

    from uecity.scene.spec import IntersectionSpec
    from uecity.traffic.network import build_network

    network = build_network(IntersectionSpec(), Path(tempfile.mkdtemp(prefix="bench-unreal-")))
    catalog = load_catalog()
    server = SimServer(lambda: SimEngine(network, catalog), "127.0.0.1", port, tick_s=tick_s)
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
    connection = UnrealCvConnection(Endpoint("127.0.0.1", port))
    renderer = UnrealCvRenderer(camera, connection, load_catalog(), UnrealCvOptions())
    times = loop(renderer, worlds, ids)
    renderer.close()
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


def raw(port: int, setup: list[str], frames: list[list[list[str]]], cleanup: list[str]
        ) -> list[float]:  # fmt: skip
    """The minimal loop: the same commands through the bare client, images decoded."""
    client = unrealcv.Client(("127.0.0.1", port))
    deadline = time.monotonic() + 10  # the server may not have seen the last loop hang up yet
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("unrealcv").setLevel(logging.CRITICAL)
        while not client.connect(timeout=2):
            if time.monotonic() > deadline:
                raise RuntimeError("serve-sim refused the raw client")
            time.sleep(0.1)
    client.request("vset /cameras/spawn")
    client.request_batch(setup)
    times = []
    for changes, commands in frames:
        start = time.perf_counter()
        if changes:
            client.request_batch([f"vbatch {len(changes)}", *changes])
        replies = client.request_batch([f"vbatch {len(commands)}", *commands])
        for reply in replies[-3:-1]:
            image = cv2.imdecode(np.frombuffer(reply, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None
        times.append(time.perf_counter() - start)
    client.request_batch(cleanup)
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
        connection = UnrealCvConnection(Endpoint("127.0.0.1", server.port))
        renderer = UnrealCvRenderer(camera, connection, load_catalog(), UnrealCvOptions())
        # The raw loop replays exactly the commands our backend sends for these poses.
        raw_frames = []
        for world in worlds:
            plan = renderer.frame_commands(world, ids)
            renderer._spawned = plan.spawned  # as if sent
            raw_frames.append([plan.changes, plan.capture])
        raw_setup, destroy = renderer.camera_commands(1), renderer.close_commands()
        renderer._spawned = {}
        renderer.close()
        loops = {
            "pipelined": lambda: ours(server.port, camera, worlds, ids, ours_pipelined),
            "one at a time": lambda: ours(server.port, camera, worlds, ids, ours_one_at_a_time),
            "raw": lambda: raw(server.port, raw_setup, raw_frames, destroy),
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

    # Ticks per captured frame, batched vs not, from the server's request log (in-process).
    from uecity.unreal.sim_engine import SimEngine
    from uecity.unreal.sim_server import SimServer

    from uecity.scene.spec import IntersectionSpec
    from uecity.traffic.network import build_network

    network = build_network(IntersectionSpec(), Path(tempfile.mkdtemp(prefix="bench-unreal-")))
    catalog = load_catalog()
    small = ring_camera(320, 180)
    for batched in (True, False):
        server = SimServer(lambda: SimEngine(network, catalog), "127.0.0.1", 0, tick_s=0.016)
        server.start()
        connection = UnrealCvConnection(Endpoint("127.0.0.1", server.port))
        renderer = UnrealCvRenderer(small, connection, catalog, UnrealCvOptions(batched=batched))
        renderer.render(worlds[0], ids)
        ticks = []
        for world in worlds[1:4]:
            first = len(server.request_log)
            renderer.render(world, ids)
            frame = server.request_log[first:]
            ticks.append(frame[-1].tick - frame[0].tick + 1)
        renderer.close()
        server.stop()
        label = "batched (vbatch)" if batched else "unbatched (sync)"
        print(
            f"ticks per frame, {label:17s} {statistics.mean(ticks):6.1f}   "
            f"({len(frame)} requests per frame)"
        )
    print("target: <= 3 ticks per frame batched")


if __name__ == "__main__":
    main()
