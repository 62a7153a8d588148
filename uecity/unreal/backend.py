"""The `unrealcv` render backend: SUMO's actors puppeteered in Unreal Engine through UnrealCV.

One `UnrealCvRenderer` per video, behind the same `Renderer` protocol as the `sim` backend,
on the run's one engine session (`uecity.unreal.session`). Each SUMO actor becomes one Unreal
actor spawned from the asset catalog under a name never used before on the engine, in its
colour (the colour's own class, or the asset's paint function), with a unique, well-separated
mask colour. Every frame is one deterministic capture: pause → spawn/destroy and set the poses
that changed → capture lit and object_mask → resume, sent as one `vbatch` so the engine runs it
within one tick (it dequeues ≤ 32 requests per tick, so a large frame spans several ticks of
dequeuing, then runs at once). Boxes are computed from the decoded object mask by the same code
as the `sim` backend. The video's camera is spawned for it and destroyed after it.

A dropped connection or an engine restart mid-video is survived where the engine allows it
(Windows; Linux through its Unix socket): reconnect with backoff, flush what the last
connection left queued, set the camera up again, re-spawn every actor under new names, and send
the frames in flight again, so the video has no missing or duplicated frame. A Linux engine
reached over TCP cannot be reconnected to: that is one clear error saying to restart it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from uecity.camera import Camera
from uecity.core.errors import ExternalToolError, UsageError
from uecity.render.mask_boxes import decode_colour_mask, instance_colour, search_rectangles
from uecity.render.protocol import ObservedEngine, RenderedFrame, Renderer, SceneFact
from uecity.scene.spec import PEDESTRIAN_TYPES, SceneSpec
from uecity.traffic.demand import PARKED_TYPES, ActorSpec
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal.catalog import (
    DEFAULT_CATALOG,
    AssetCatalog,
    AssetEntry,
    check_catalog_covers,
    load_catalog,
)
from uecity.unreal.connection import (
    ConnectionLost,
    Endpoint,
    EngineCommandError,
    UnrealCvConnection,
)
from uecity.unreal.coordinates import (
    camera_to_unreal_rotation,
    heading_to_unreal_yaw,
    horizontal_fov_deg,
    world_to_unreal_location,
)
from uecity.unreal.paint_check import PaintCheck
from uecity.unreal.session import EngineSession, session_for

log = logging.getLogger(__name__)

MASK_TOLERANCE = 3
"""Rendered mask colours can be off by one or two (gamma rounding): match within ±3."""


@dataclass(frozen=True)
class UnrealCvOptions:
    batched: bool = True
    """Send each frame as one `vbatch`; off only to measure what batching saves."""
    max_reconnects: int = 5
    """Reconnections tried for one frame before the video fails."""
    frames_in_flight: int = 2
    """Frames sent ahead of the one being finished, so the engine renders the next frame while
    we decode the last one and never idles between them (1: one frame at a time)."""
    image_format: str = "bmp"
    """How frames travel: `bmp` (no compression: the engine's PNG encoder is slow at high
    resolution, and decoding is a copy) or `png` (smaller, for a remote engine)."""
    min_colour_pixels: int = 64
    """Observe mode: the visible pixels an engine actor needs in one frame before its colour is
    estimated; one never seen that well keeps an unknown colour."""


@dataclass(frozen=True)
class UnrealCvSettings:
    """Where the engine is and how to talk to it: the environment of a run, not the dataset's.

    Kept out of the scene spec on purpose: the same dataset can be resumed against an engine
    restarted on another host or port.
    """

    endpoint: Endpoint = field(default_factory=lambda: Endpoint("127.0.0.1", 9000))
    catalog_path: Path = DEFAULT_CATALOG
    connect_timeout_s: float = 30.0
    request_timeout_s: float = 60.0
    options: UnrealCvOptions = field(default_factory=UnrealCvOptions)

    def catalog(self) -> AssetCatalog:
        return load_catalog(self.catalog_path)

    def connection(self) -> UnrealCvConnection:
        return UnrealCvConnection(
            self.endpoint,
            connect_timeout_s=self.connect_timeout_s,
            request_timeout_s=self.request_timeout_s,
        )

    def session(self) -> EngineSession:
        """The run's one engine session (this process's, for this endpoint), connected."""
        key = (self.endpoint, self.connect_timeout_s, self.request_timeout_s)
        return session_for(key, self.connection)

    def check_reachable(self) -> None:
        """Open the run's session: an engine that is not there is an error before any work,
        and the connection stays open for every video (a Linux engine serves one TCP client
        per process: connecting again would not be answered)."""
        self.session()

    # --- the `RenderBackend` protocol
    def check_run(self, spec: SceneSpec, workers: int) -> None:
        """Refuse an Unreal run that cannot work, before any video: one engine serves one
        client, the catalog must be sound and (puppeteer mode) give every object type an
        asset, and the engine must answer."""
        if workers > 1:
            raise UsageError(
                "--workers must be 1 with the unrealcv backend: an Unreal Engine serves one "
                "client at a time (run one engine per shard with --shard i/n to go parallel)"
            )
        catalog = self.catalog()
        if spec.run.mode == "puppeteer":  # in observe mode the engine's own actors are recorded
            demand = spec.demand
            needed = {("vehicle", t) for t, mix in demand.mix.items() if mix.share > 0}
            if demand.parked_vehicles > 0:
                needed |= {("vehicle", t) for t in PARKED_TYPES}
            if demand.pedestrians_per_hour > 0:
                needed |= {("pedestrian", t) for t in PEDESTRIAN_TYPES}
            check_catalog_covers(catalog, needed, path=self.catalog_path)
        self.check_reachable()

    def renderer(
        self, camera: Camera, network: Network, rng: np.random.Generator
    ) -> UnrealCvRenderer:
        """The video's renderer on the run's engine session (the engine draws the scene
        itself: neither the network nor the generator is needed here)."""
        return UnrealCvRenderer(camera, self.session(), self.catalog(), self.options)

    def observe(self, renderer: Renderer, fps: float) -> ObservedEngine:
        """Observe mode: the engine's own traffic, read back frame by frame."""
        from uecity.unreal.observe import EngineObserver  # it builds on this module

        if not isinstance(renderer, UnrealCvRenderer):
            raise TypeError(f"observe mode needs an UnrealCvRenderer, got {type(renderer)}")
        return EngineObserver(renderer, fps, self.options.min_colour_pixels)


@dataclass(frozen=True)
class FramePlan:
    """The requests of one frame, and the engine's actors once they ran."""

    changes: list[str]  # spawns (with scale, mask colour, paint) and destroys
    capture: list[str]  # pause → the poses that changed → lit, object_mask → resume
    spawned: dict[str, int]  # sumo id → instance id
    names: dict[str, str]  # sumo id → engine actor name
    poses: dict[str, tuple[str, str]]  # sumo id → the pose commands the engine has run
    paint_calls: dict[int, str]  # index in `changes` of a `vbp` → the actor it paints


def pose_commands(actor: ActorState, name: str, asset: AssetEntry) -> list[str]:
    """`vset` commands that put `name` where `actor` is (fixed-point: the server's `[float]`
    takes no exponent)."""
    z = actor.z + (actor.spec.size_m[2] / 2 if asset.pivot == "centre" else 0.0)
    x, y, zc = world_to_unreal_location(actor.x, actor.y, z)
    yaw = heading_to_unreal_yaw(math.degrees(actor.heading)) + asset.yaw_offset_deg
    return [
        f"vset /object/{name}/location {x:.3f} {y:.3f} {zc:.3f}",
        f"vset /object/{name}/rotation 0.000 {yaw:.5f} 0.000",
    ]


def spawn_commands(actor: ActorState, name: str, asset: AssetEntry, instance_id: int) -> list[str]:
    """Spawn (in the colour's own class where the asset has colour variants), scale, mask
    colour, and the paint call for an asset painted by its Blueprint function."""
    spec = actor.spec
    scale = [s / a for s, a in zip(spec.size_m, asset.size_m, strict=True)]
    r, g, b = instance_colour(instance_id)
    commands = [
        f"vset /objects/spawn {asset.spawn_class(spec.colour_name)} {name}",
        f"vset /object/{name}/scale {scale[0]:.6f} {scale[1]:.6f} {scale[2]:.6f}",
        f"vset /object/{name}/color {r} {g} {b}",
    ]
    if asset.paint_mode == "function":
        pr, pg, pb = (c / 255.0 for c in spec.colour_rgb)
        commands.append(f"vbp {name} {asset.paint_function} {pr:.4f} {pg:.4f} {pb:.4f}")
    return commands


class UnrealCvRenderer:
    """A `Renderer` for one video that poses actors in Unreal Engine and captures them."""

    def __init__(
        self,
        camera: Camera,
        session: EngineSession,
        catalog: AssetCatalog,
        options: UnrealCvOptions | None = None,
    ) -> None:
        self.camera = camera
        self.session = session
        self.connection = session.connection
        self.catalog = catalog
        self.options = options or UnrealCvOptions()
        self.reconnections = 0
        self.paint = PaintCheck()
        self._spawned: dict[str, int] = {}  # sumo id -> instance id, once what was sent has run
        self._names: dict[str, str] = {}  # sumo id -> engine name
        self._poses: dict[str, tuple[str, str]] = {}  # sumo id -> last pose commands sent
        self._camera_id: int | None = None
        self._camera_name: str | None = None
        self._in_flight: deque[PendingCapture] = deque()  # started, not yet waited for, in order
        self._lost = False  # the connection was lost: frames in flight must be sent again
        if not self.connection.connected:  # the last video lost it: a reconnection is due
            self._reconnect_or_fail("before the video's first frame")
        else:
            try:
                self._set_up_camera()
            except ConnectionLost as error:
                self._recover(0, 0, error)

    # --- camera
    def _set_up_camera(self) -> None:
        """Spawn the video's camera, find its sensor id, give it the spec's pose and optics."""
        self._camera_name, self._camera_id = self.session.spawn_camera()
        self.connection.request_batch(self.camera_commands(self._camera_id))

    def camera_commands(self, camera_id: int) -> list[str]:
        """`vset` commands that give UnrealCV camera `camera_id` our camera's optics and pose."""
        c = self.camera
        x, y, z = world_to_unreal_location(c.x, c.y, c.z)
        pitch, yaw, roll = camera_to_unreal_rotation(c.yaw_deg, c.pitch_deg, c.roll_deg)
        return [
            f"vset /camera/{camera_id}/size {c.width} {c.height}",
            f"vset /camera/{camera_id}/fov {horizontal_fov_deg(c.fx, c.width):.6f}",
            f"vset /camera/{camera_id}/location {x:.3f} {y:.3f} {z:.3f}",
            f"vset /camera/{camera_id}/rotation {pitch:.6f} {yaw:.6f} {roll:.6f}",
        ]

    # --- a frame
    def frame_commands(self, world: WorldState, instance_ids: Mapping[str, int]) -> FramePlan:
        """The commands of one frame: first the spawns and destroys, then the capture.

        Only the poses that changed since the last frame are sent (parked and waiting actors
        cost nothing): at most 32 requests are dequeued per engine tick.
        """
        actors = {a.sumo_id: a for a in world.actors if a.sumo_id in instance_ids}
        spawned, names, poses = dict(self._spawned), dict(self._names), dict(self._poses)
        changes: list[str] = []
        paint_calls: dict[int, str] = {}
        for sumo_id in sorted(set(spawned) - set(actors)):
            changes.append(f"vset /object/{names.pop(sumo_id)}/destroy")
            del spawned[sumo_id]
            poses.pop(sumo_id, None)
        capture = ["vset /action/game/pause"]
        for sumo_id, actor in actors.items():
            iid = instance_ids[sumo_id]
            asset = self._asset(actor)
            if sumo_id not in spawned:
                names[sumo_id] = self.session.new_name()
                commands = spawn_commands(actor, names[sumo_id], asset, iid)
                if commands[-1].startswith("vbp "):
                    paint_calls[len(changes) + len(commands) - 1] = names[sumo_id]
                changes += commands
                spawned[sumo_id] = iid
            pose = pose_commands(actor, names[sumo_id], asset)
            last = poses.get(sumo_id, ("", ""))
            capture += [new for new, old in zip(pose, last, strict=True) if new != old]
            poses[sumo_id] = (pose[0], pose[1])
        fmt, cid = self.options.image_format, self._camera_id
        capture += [
            f"vget /camera/{cid}/lit {fmt}",
            f"vget /camera/{cid}/object_mask {fmt}",
            "vset /action/game/resume",
        ]
        return FramePlan(changes, capture, spawned, names, poses, paint_calls)

    def _asset(self, actor: ActorState) -> AssetEntry:
        asset = self.catalog.lookup(actor.spec.category, actor.spec.type)
        if asset is None:  # checked before the run; kept as a guard for hand-made worlds
            check_catalog_covers(self.catalog, {(actor.spec.category, actor.spec.type)})
        return asset  # type: ignore[return-value]

    @property
    def camera_id(self) -> int | None:
        """The UnrealCV camera (sensor id) this renderer captures with."""
        return self._camera_id

    def asset_name(self, spec: ActorSpec) -> str:
        asset = self.catalog.lookup(spec.category, spec.type)
        return asset.blueprint if asset is not None else f"unknown/{spec.category}/{spec.type}"

    def scene_facts(self) -> dict[str, SceneFact]:
        """The engine's level decides the scene; nothing of it is chosen here."""
        return {}

    def render(self, world: WorldState, instance_ids: Mapping[str, int]) -> RenderedFrame:
        return self.start(world, instance_ids).result()

    def start(self, world: WorldState, instance_ids: Mapping[str, int]) -> PendingCapture:
        """Send the frame's requests and return at once: the engine renders it while the caller
        works on earlier frames. Frames are finished in the order they were started; at most
        `frames_in_flight` are in flight (the oldest is waited for to make room)."""
        limit = self.options.frames_in_flight if self.options.batched else 1
        while len(self._in_flight) >= max(limit, 1):
            self._in_flight[0].wait()
        pending = PendingCapture(self, world, instance_ids)
        self._in_flight.append(pending)
        if not self._lost:  # else `wait` reconnects and sends every frame in flight again
            try:
                pending.send()
            except ConnectionLost:
                self._lost = True
        return pending

    def _send_frame(
        self, world: WorldState, instance_ids: Mapping[str, int]
    ) -> tuple[FramePlan, Callable[[], list[str | bytes]]]:
        """Send one frame's requests; returns its plan and what collects the capture's replies.

        Spawns and destroys go first, in a batch of their own, so a frame's capture stays small.
        The frame is planned against the engine as the frames sent before it will leave it.
        """
        plan = self.frame_commands(world, instance_ids)
        self.session.live.difference_update(set(self._names.values()) - set(plan.names.values()))
        self.session.live.update(plan.names.values())
        self._spawned, self._names, self._poses = plan.spawned, plan.names, plan.poses
        if not self.options.batched:  # one synchronous request after another
            change_replies = [
                self.connection.request_batch([c], check=False)[0] for c in plan.changes
            ]
            self._check_changes(plan, change_replies)
            replies = [self.connection.request(c) for c in plan.capture]
            return plan, lambda: replies
        changes = self.connection.send_batch(
            [f"vbatch {len(plan.changes)}", *plan.changes] if plan.changes else []
        )
        capture = self.connection.send_batch([f"vbatch {len(plan.capture)}", *plan.capture])

        def collect() -> list[str | bytes]:
            self._check_changes(plan, self.connection.collect(changes, check=False)[1:])
            return self.connection.collect(capture)[1:]

        return plan, collect

    def _check_changes(self, plan: FramePlan, replies: list[str | bytes]) -> None:
        """Spawns and destroys must have worked; a paint call that failed is noted (its actor
        is unpainted), not fatal: a Shipping build has no console for `vbp`."""
        for index, (command, reply) in enumerate(zip(plan.changes, replies, strict=True)):
            if not (isinstance(reply, str) and reply.startswith("error")):
                continue
            if index in plan.paint_calls:
                self.paint.call_failed(plan.paint_calls[index], reply)
                continue
            if command.startswith("vset /objects/spawn") and "Can not find a class" in reply:
                raise EngineCommandError(
                    f"the engine has no class {command.split()[2]} loaded ({reply}): spawning "
                    "finds only classes already in memory, so the level must reference every "
                    "class of the asset catalog (ue_project/Scripts/setup_level.py does) and a "
                    "packaged game must have cooked it (ue_project/Config/DefaultGame.ini)"
                )
            raise EngineCommandError(f"the engine refused `{command}`: {reply}")

    def _send_again(self) -> None:
        """After a reconnection: send every frame in flight again, in order."""
        self._lost = False
        for pending in self._in_flight:
            pending.send()

    def _finished(self, pending: PendingCapture) -> None:
        assert self._in_flight[0] is pending
        self._in_flight.popleft()

    def _recover(self, frame: int, attempt: int, error: ConnectionLost) -> None:
        """Reconnect after `error` lost frame `frame` (attempt 0, 1, …), or fail the video.

        A connection lost again while reconnecting is one more attempt, never an escape."""
        self._lost = True
        while True:
            if attempt >= self.options.max_reconnects:
                raise ExternalToolError(
                    f"lost the Unreal Engine at frame {frame} and could not resume "
                    f"after {attempt} reconnections: {error}"
                ) from None
            log.warning("frame %d: %s; reconnecting", frame, error)
            time.sleep(min(0.1 * 2**attempt, 2.0))
            attempt += 1
            try:
                self._reconnect(f"at frame {frame} ({error})")
                return
            except ConnectionLost as again:
                error = again

    def _reconnect_or_fail(self, where: str) -> None:
        attempt = 0
        while True:
            try:
                self._reconnect(where)
                return
            except ConnectionLost as error:
                attempt += 1
                if attempt >= self.options.max_reconnects:
                    raise ExternalToolError(f"lost the Unreal Engine {where}: {error}") from None

    def _reconnect(self, where: str) -> None:
        self.reconnections += 1
        self.session.reconnect(where)  # also destroys every actor the session may have left
        self._spawned, self._names, self._poses = {}, {}, {}
        self._set_up_camera()

    def _decode(
        self,
        world: WorldState,
        instance_ids: Mapping[str, int],
        plan: FramePlan,
        replies: list[str | bytes],
    ) -> RenderedFrame:
        """The frame from the capture's replies: the lit image and the decoded object mask."""
        lit, mask = replies[-3], replies[-2]
        size = (self.camera.width, self.camera.height)
        image_bgr = decode_image(lit, "lit", size)
        mask_bgr = decode_image(mask, "object_mask", size, copy=False)  # rectangles are read
        # OpenCV decodes BGR: match against BGR colours rather than copying the image to RGB.
        colours_bgr = {iid: instance_colour(iid)[::-1] for iid in plan.spawned.values()}
        # Each actor's colour is looked for only where the box code will look for its pixels:
        # the rest of a real engine's mask (the level's own objects) is never read.
        actors = [a for a in world.actors if a.sumo_id in plan.spawned]
        _amodal, regions = search_rectangles(self.camera, actors, instance_ids)
        ids = decode_colour_mask(mask_bgr, colours_bgr, MASK_TOLERANCE, regions)
        self.paint.look(actors, plan.names, instance_ids, image_bgr, ids, regions)
        return RenderedFrame(image_bgr, ids, None)

    def close(self) -> None:
        """Destroy our actors and camera and let the game run on; the session stays open for
        the run's next video (errors ignored: the engine may be gone)."""
        self._in_flight.clear()
        with contextlib.suppress(ConnectionLost):
            if self.connection.connected:
                self.connection.drain()  # frames still in flight when the video stopped
                names = [*self._names.values(), *filter(None, [self._camera_name])]
                self.session.destroy(names)
                self.connection.request_batch(["vset /action/game/resume"], check=False)
        self.paint.report()

    def close_commands(self) -> list[str]:
        """What `close` sends: destroy our actors and camera, and let the game run on."""
        names = [*self._names.values(), *filter(None, [self._camera_name])]
        return [*(f"vset /object/{n}/destroy" for n in names), "vset /action/game/resume"]


class PendingCapture:
    """One frame sent to the engine: `wait` for its replies, `result` for the decoded frame.

    A connection lost on the way (while sending, or with this or an earlier frame in flight) is
    survived in `wait`: reconnect with backoff, re-spawn every actor, and send every frame in
    flight again, in order.
    """

    def __init__(
        self, renderer: UnrealCvRenderer, world: WorldState, instance_ids: Mapping[str, int]
    ) -> None:
        self._renderer = renderer
        self.world = world
        self._instance_ids = instance_ids
        self._sent: tuple[FramePlan, Callable[[], list[str | bytes]]] | None = None
        self._replies: list[str | bytes] | None = None
        self._frame: RenderedFrame | None = None

    def send(self) -> None:
        self._sent = None
        self._sent = self._renderer._send_frame(self.world, self._instance_ids)

    def wait(self) -> None:
        renderer = self._renderer
        if self._replies is not None:
            return
        if self not in renderer._in_flight:
            raise ExternalToolError(f"frame {self.world.frame} was dropped: the renderer closed")
        while renderer._in_flight[0] is not self:
            renderer._in_flight[0].wait()  # replies come in order: earlier frames first
        attempt = 0
        while self._replies is None:
            try:
                if renderer._lost:
                    renderer._send_again()
                assert self._sent is not None
                self._replies = self._sent[1]()
            except ConnectionLost as error:
                renderer._recover(self.world.frame, attempt, error)
                attempt += 1
        renderer._finished(self)

    def result(self) -> RenderedFrame:
        if self._frame is None:
            self.wait()
            assert self._sent is not None and self._replies is not None
            plan = self._sent[0]
            self._frame = self._renderer._decode(
                self.world, self._instance_ids, plan, self._replies
            )
        return self._frame


def decode_image(
    reply: str | bytes, what: str, size: tuple[int, int] | None = None, *, copy: bool = True
) -> np.ndarray:
    """A BGR image from the engine's reply: the plugin's BMP read in place, PNG through OpenCV.

    `size` (width, height), when given, is checked. Without `copy`, a BMP comes back as a
    read-only view of the reply (BGR of its BGRA pixels): for reading parts of it, such as the
    object mask's actor rectangles.
    """
    if isinstance(reply, str):
        raise ExternalToolError(f"the engine sent text instead of the {what} image: {reply!r}")
    pixels = bmp_pixels(reply, what)
    if pixels is not None:  # BGRA → BGR: OpenCV's conversion is ~10× a strided numpy copy
        image = cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR) if copy else pixels[..., :3]
    else:
        image = cv2.imdecode(np.frombuffer(reply, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ExternalToolError(f"the engine's {what} image could not be decoded")
    if size is not None and (image.shape[1], image.shape[0]) != size:
        raise ExternalToolError(
            f"the engine captured {image.shape[1]}x{image.shape[0]} {what} frames, the camera "
            f"is {size[0]}x{size[1]}"
        )
    return image


def bmp_pixels(data: bytes, what: str = "image") -> np.ndarray | None:
    """The (H, W, 4) BGRA pixels of UnrealCV's BMP, top-down, as a view of `data`; None when
    `data` is not a BMP.

    The plugin writes a 54-byte header (32 bits per pixel, height −H: top-down) and then the
    pixels as a serialised `TArray`, i.e. a 4-byte count first: the pixels are the *last*
    4·W·H bytes, not those at `bfOffBits` (a decoder that trusts it, as OpenCV does, reads
    every row one pixel to the right). The header is checked; anything else is an error.
    """
    if len(data) < 54 or data[:2] != b"BM":
        return None
    width = int.from_bytes(data[18:22], "little", signed=True)
    height = int.from_bytes(data[22:26], "little", signed=True)
    bits = int.from_bytes(data[28:30], "little")
    compression = int.from_bytes(data[30:34], "little")
    rows = abs(height)
    count = 4 * width * rows
    if bits != 32 or compression != 0 or width <= 0 or rows == 0:
        raise ExternalToolError(
            f"the engine's {what} BMP is {width}x{height} at {bits} bits (compression "
            f"{compression}); UnrealCV sends uncompressed 32-bit BGRA"
        )
    if len(data) < 54 + count:
        raise ExternalToolError(
            f"the engine's {what} BMP is truncated: {len(data)} bytes for {width}x{rows} pixels"
        )
    pixels = np.frombuffer(data, np.uint8, count=count, offset=len(data) - count)
    image = pixels.reshape(rows, width, 4)
    return image if height < 0 else image[::-1]
