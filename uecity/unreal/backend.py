"""The `unrealcv` render backend: SUMO's actors puppeteered in Unreal Engine through UnrealCV.

One `UnrealCvRenderer` per video, behind the same `Renderer` protocol as the `sim` backend.
Each SUMO actor becomes one Unreal actor spawned from the asset catalog, painted through the
asset's Blueprint paint function and given a unique, well-separated mask colour. Every frame
is one deterministic capture: pause → spawn/destroy and set every pose → capture lit and
object_mask → resume, sent as one `vbatch` so the engine runs it within a tick. Boxes are then
computed from the decoded object mask by the same code as the `sim` backend.

A dropped connection or an engine restart mid-video is survived: reconnect with backoff,
set the camera up again, re-spawn every actor, and capture the same frame again, so the video
has no missing or duplicated frame.
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
from uecity.errors import ExternalToolError
from uecity.render.mask_boxes import decode_colour_mask, instance_colour, search_rectangles
from uecity.render.protocol import RenderedFrame
from uecity.traffic.demand import ActorSpec
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal.catalog import (
    DEFAULT_CATALOG,
    AssetCatalog,
    AssetEntry,
    check_catalog_covers,
    load_catalog,
)
from uecity.unreal.connection import ConnectionLost, Endpoint, UnrealCvConnection
from uecity.unreal.coordinates import (
    camera_to_unreal_rotation,
    heading_to_unreal_yaw,
    horizontal_fov_deg,
    world_to_unreal_location,
)

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

    def check_reachable(self) -> None:
        """Connect once and hang up: an engine that is not there is an error before any work."""
        connection = self.connection()
        connection.connect()
        connection.close()

    def build_renderer(self, camera: Camera) -> UnrealCvRenderer:
        return UnrealCvRenderer(camera, self.connection(), self.catalog(), self.options)


@dataclass(frozen=True)
class FramePlan:
    """The requests of one frame, and the actors spawned in the engine once they ran."""

    changes: list[str]  # spawns (with scale, mask colour, paint) and destroys
    capture: list[str]  # pause → every pose → lit, object_mask → resume
    spawned: dict[str, int]  # sumo id → instance id


def actor_name(instance_id: int) -> str:
    """The Unreal name of our actor (stable across reconnections)."""
    return f"uecity_{instance_id}"


def pose_commands(actor: ActorState, name: str, asset: AssetEntry) -> list[str]:
    """`vset` commands that put `name` where `actor` is."""
    z = actor.z + (actor.spec.size_m[2] / 2 if asset.pivot == "centre" else 0.0)
    x, y, zc = world_to_unreal_location(actor.x, actor.y, z)
    yaw = heading_to_unreal_yaw(math.degrees(actor.heading)) + asset.yaw_offset_deg
    return [
        f"vset /object/{name}/location {x:.3f} {y:.3f} {zc:.3f}",
        f"vset /object/{name}/rotation 0.000 {yaw:.5f} 0.000",
    ]


def spawn_commands(actor: ActorState, name: str, asset: AssetEntry, instance_id: int) -> list[str]:
    """Spawn, scale, mask colour and paint for a new actor."""
    spec = actor.spec
    scale = [s / a for s, a in zip(spec.size_m, asset.size_m, strict=True)]
    r, g, b = instance_colour(instance_id)
    commands = [
        f"vset /objects/spawn {asset.blueprint} {name}",
        f"vset /object/{name}/scale {scale[0]:.6f} {scale[1]:.6f} {scale[2]:.6f}",
        f"vset /object/{name}/color {r} {g} {b}",
    ]
    if asset.paint_function:
        pr, pg, pb = (c / 255.0 for c in spec.colour_rgb)
        commands.append(f"vbp {name} {asset.paint_function} {pr:.4f} {pg:.4f} {pb:.4f}")
    return commands


class UnrealCvRenderer:
    """A `Renderer` for one video that poses actors in Unreal Engine and captures them."""

    def __init__(
        self,
        camera: Camera,
        connection: UnrealCvConnection,
        catalog: AssetCatalog,
        options: UnrealCvOptions | None = None,
    ) -> None:
        self.camera = camera
        self.connection = connection
        self.catalog = catalog
        self.options = options or UnrealCvOptions()
        self.reconnections = 0
        self._spawned: dict[str, int] = {}  # sumo id -> instance id, once what was sent has run
        self._ever_spawned: set[int] = set()  # every instance id sent a spawn on this connection
        self._camera_id: int | None = None
        self._in_flight: deque[PendingCapture] = deque()  # started, not yet waited for, in order
        self._lost = False  # the connection was lost: frames in flight must be sent again
        connection.connect()
        self._set_up_camera()

    # --- camera
    def _set_up_camera(self) -> None:
        """Spawn our camera (camera 0 is the player's) and give it the spec's pose and optics."""
        reply = self.connection.request("vset /cameras/spawn")
        text = reply.decode() if isinstance(reply, bytes) else reply
        digits = "".join(ch for ch in text if ch.isdigit())
        if not digits:
            cameras = str(self.connection.request("vget /cameras")).split()
            digits = str(len(cameras) - 1)
        self._camera_id = int(digits)
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
        """The commands of one frame: first the spawns and destroys, then the capture."""
        actors = {a.sumo_id: a for a in world.actors if a.sumo_id in instance_ids}
        spawned = dict(self._spawned)
        changes = []
        for sumo_id in sorted(set(spawned) - set(actors)):
            changes.append(f"vset /object/{actor_name(spawned.pop(sumo_id))}/destroy")
        capture = ["vset /action/game/pause"]
        for sumo_id, actor in actors.items():
            iid = instance_ids[sumo_id]
            asset = self._asset(actor)
            if sumo_id not in spawned:
                changes += spawn_commands(actor, actor_name(iid), asset, iid)
                spawned[sumo_id] = iid
            capture += pose_commands(actor, actor_name(iid), asset)
        fmt, cid = self.options.image_format, self._camera_id
        capture += [
            f"vget /camera/{cid}/lit {fmt}",
            f"vget /camera/{cid}/object_mask {fmt}",
            "vset /action/game/resume",
        ]
        return FramePlan(changes, capture, spawned)

    def _asset(self, actor: ActorState) -> AssetEntry:
        asset = self.catalog.lookup(actor.spec.category, actor.spec.type)
        if asset is None:  # checked before the run; kept as a guard for hand-made worlds
            check_catalog_covers(self.catalog, {(actor.spec.category, actor.spec.type)})
        return asset  # type: ignore[return-value]

    @property
    def camera_id(self) -> int | None:
        """The UnrealCV camera this renderer captures with."""
        return self._camera_id

    def asset_name(self, spec: ActorSpec) -> str:
        asset = self.catalog.lookup(spec.category, spec.type)
        return asset.blueprint if asset is not None else f"unknown/{spec.category}/{spec.type}"

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
        self._ever_spawned.update(plan.spawned.values())
        self._spawned = plan.spawned
        if not self.options.batched:  # one synchronous request after another
            if plan.changes:
                self._send(plan.changes)
            replies = self._send(plan.capture)
            return plan, lambda: replies
        changes = self.connection.send_batch(
            [f"vbatch {len(plan.changes)}", *plan.changes] if plan.changes else []
        )
        capture = self.connection.send_batch([f"vbatch {len(plan.capture)}", *plan.capture])

        def collect() -> list[str | bytes]:
            self.connection.collect(changes)  # an engine that refused a spawn raises here
            return self.connection.collect(capture)[1:]

        return plan, collect

    def _send_again(self) -> None:
        """After a reconnection: send every frame in flight again, in order."""
        self._lost = False
        for pending in self._in_flight:
            pending.send()

    def _finished(self, pending: PendingCapture) -> None:
        assert self._in_flight[0] is pending
        self._in_flight.popleft()

    def _recover(self, frame: int, attempt: int, error: ConnectionLost) -> None:
        """Reconnect after `error` lost frame `frame` (attempt 0, 1, …), or fail the video."""
        self._lost = True
        if attempt == self.options.max_reconnects:
            raise ExternalToolError(
                f"lost the Unreal Engine at frame {frame} and could not resume "
                f"after {attempt} reconnections: {error}"
            ) from None
        log.warning("frame %d: %s; reconnecting", frame, error)
        time.sleep(min(0.2 * 2**attempt, 5.0))
        try:
            self._reconnect()
        except ExternalToolError as lost:
            raise ExternalToolError(f"lost the Unreal Engine at frame {frame}: {lost}") from None

    def _reconnect(self) -> None:
        self.reconnections += 1
        self.connection.connect()
        # The engine may have restarted (our actors are gone) or not (they survive, and so may
        # some of the interrupted frames' spawns): destroy all we may have spawned, ignoring
        # errors, then spawn afresh so no re-spawn collides with a survivor.
        names = [actor_name(i) for i in sorted(self._ever_spawned)]
        if names:
            self.connection.request_batch([f"vset /object/{n}/destroy" for n in names], check=False)
        self._spawned, self._ever_spawned = {}, set()
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
        image_bgr = decode_image(lit, "lit")
        mask_bgr = decode_image(mask, "object_mask", copy=False)  # only rectangles are read
        if image_bgr.shape[:2] != (self.camera.height, self.camera.width):
            raise ExternalToolError(
                f"the engine captured {image_bgr.shape[1]}x{image_bgr.shape[0]} frames, the "
                f"camera is {self.camera.width}x{self.camera.height}"
            )
        # OpenCV decodes BGR: match against BGR colours rather than copying the image to RGB.
        colours_bgr = {iid: instance_colour(iid)[::-1] for iid in plan.spawned.values()}
        # Each actor's colour is looked for only where the box code will look for its pixels:
        # the rest of a real engine's mask (the level's own objects) is never read.
        actors = [a for a in world.actors if a.sumo_id in plan.spawned]
        _amodal, regions = search_rectangles(self.camera, actors, instance_ids)
        ids = decode_colour_mask(mask_bgr, colours_bgr, MASK_TOLERANCE, regions)
        return RenderedFrame(image_bgr, ids, None)

    def _send(self, commands: list[str]) -> list[str | bytes]:
        if self.options.batched:  # the engine runs a vbatch within one tick
            return self.connection.request_batch([f"vbatch {len(commands)}", *commands])[1:]
        return [self.connection.request(c) for c in commands]

    def close(self) -> None:
        """Destroy our actors, let the game run on, disconnect (errors ignored: the engine may
        be gone)."""
        self._in_flight.clear()
        with contextlib.suppress(ConnectionLost):
            if self.connection.connected:
                self.connection.drain()  # frames still in flight when the video stopped
                self.connection.request_batch(self.close_commands(), check=False)
        self.connection.close()

    def close_commands(self) -> list[str]:
        """What `close` sends: destroy our actors and let the game run on."""
        destroy = [f"vset /object/{actor_name(i)}/destroy" for i in self._spawned.values()]
        return [*destroy, "vset /action/game/resume"]


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


def decode_image(reply: str | bytes, what: str, *, copy: bool = True) -> np.ndarray:
    """A BGR image from the engine's reply: BMP read in place, anything else through OpenCV.

    Without `copy`, a BMP comes back as a read-only view of the reply (rows reversed by a
    negative stride): for reading parts of it, such as the object mask's actor rectangles.
    """
    if isinstance(reply, str):
        raise ExternalToolError(f"the engine sent text instead of the {what} image: {reply!r}")
    image = _bmp_view(reply)
    if image is not None:
        return np.ascontiguousarray(image) if copy else image
    image = cv2.imdecode(np.frombuffer(reply, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ExternalToolError(f"the engine's {what} image could not be decoded")
    return image


def _bmp_view(data: bytes) -> np.ndarray | None:
    """The pixels of an uncompressed 24-bit BMP as a (H, W, 3) BGR top-down view, no copy.

    BMP rows are stored bottom-up (positive height) and padded to 4 bytes; anything else
    (another bit depth, compression, a truncated file) returns None for OpenCV to handle.
    """
    if len(data) < 54 or data[:2] != b"BM":
        return None
    offset, width, height = (int.from_bytes(data[a:b], "little", signed=True)
                             for a, b in ((10, 14), (18, 22), (22, 26)))  # fmt: skip
    bits, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
    if bits != 24 or compression != 0 or width <= 0 or height == 0:
        return None
    stride = (width * 3 + 3) // 4 * 4
    rows = abs(height)
    if offset + stride * rows > len(data):
        return None
    pixels = np.frombuffer(data, np.uint8, count=stride * rows, offset=offset)
    image = pixels.reshape(rows, stride)[:, : width * 3].reshape(rows, width, 3)
    return image[::-1] if height > 0 else image
