"""An engine behind the UnrealCV protocol, rendered by the embedded `sim` renderer.

`uecity serve-sim` puts this behind a socket (`uecity.unreal.sim_server`) so that the Unreal
path can be exercised end to end without Unreal Engine: tests, CI, and users without UE. It
keeps what a level would keep — cameras, spawned actors with their pose, scale, mask colour and
paint colour, the paused flag — and answers the command subset `uecity` uses with the replies of
the open-source UnrealCV 5.2 server (`ok`, `error …`, values, PNG/BMP bytes). Actors are drawn
from their Unreal pose converted back to the world frame, so the same poses give the same boxes
as the `sim` backend.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from uecity.camera import Camera
from uecity.render.protocol import BACKGROUND, RenderedFrame
from uecity.render.sim import SimRenderer
from uecity.traffic.demand import ActorSpec
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal.catalog import AssetCatalog, AssetEntry
from uecity.unreal.coordinates import (
    focal_from_horizontal_fov,
    heading_to_unreal_yaw,
    unreal_to_camera_rotation,
    unreal_to_world_location,
    unreal_yaw_to_heading,
    world_to_unreal_location,
)
from uecity.unreal.engine_traffic import EngineTraffic

NO_HANDLER = "error No handler found for URI '{}'"
PROJECT_NAME = "UECitySim"


@dataclass
class CameraState:
    location: tuple[float, float, float] = (0.0, 0.0, 1000.0)  # cm
    rotation: tuple[float, float, float] = (-30.0, 0.0, 0.0)  # pitch yaw roll
    fov: float = 90.0
    size: tuple[int, int] = (640, 480)


@dataclass
class ObjectState:
    asset: AssetEntry | None  # None: a level object (not drawn)
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)  # cm
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pitch yaw roll
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    mask_colour: tuple[int, int, int] | None = None
    paint_rgb: tuple[int, int, int] = (128, 128, 128)
    visible: bool = True


@dataclass
class SimEngine:
    """The state of the pretend level, and the handlers of the commands we use."""

    network: Network
    catalog: AssetCatalog
    render_seed: int = 0
    mask_jitter: int = 2
    """Mask colours come back off by up to this much per channel, as UE's gamma rounding does."""
    cameras: dict[int, CameraState] = field(default_factory=lambda: {0: CameraState()})
    objects: dict[str, ObjectState] = field(default_factory=dict)
    paused: bool = False
    traffic: EngineTraffic | None = None
    """Traffic the engine moves itself (observe mode); None: only what clients spawn moves."""
    _traffic_names: dict[str, str] = field(default_factory=dict, repr=False)
    _renderers: dict[tuple, SimRenderer] = field(default_factory=dict, repr=False)
    _frame_cache: tuple[tuple, RenderedFrame, dict[int, str]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        # A level has things in it from the start, like a real one (they are not drawn).
        for name in ("Ground", "Sun", "SkyLight", "PlayerStart"):
            self.objects[name] = ObjectState(asset=None)
        self._handlers: list[tuple[re.Pattern[str], Callable[..., str | bytes]]] = [
            (re.compile(p), h)
            for p, h in [
                (
                    r"vget /unrealcv/status",
                    lambda: f"Is Listening\nClient Connected\n{PROJECT_NAME}",
                ),
                (r"vget /unrealcv/version", lambda: "v1.0.0 (uecity serve-sim)"),
                (r"vget /cameras", lambda: " ".join(str(i) for i in sorted(self.cameras))),
                (r"vset /cameras/spawn", self._spawn_camera),
                (r"vget /camera/(\d+)/(location|rotation|fov|size)", self._get_camera),
                (r"vset /camera/(\d+)/(location|rotation|fov|size) (.+)", self._set_camera),
                (r"vget /camera/(\d+)/(lit|object_mask) (png|bmp)", self._capture),
                (r"vget /objects", lambda: " ".join(self.objects)),
                (r"vset /objects/spawn (\S+) (\S+)", self._spawn_object),
                (r"vget /object/(\S+)/(location|rotation|scale|color)", self._get_object),
                (r"vset /object/(\S+)/(location|rotation|scale|color) (.+)", self._set_object),
                (r"vset /object/(\S+)/(show|hide|destroy)", self._object_action),
                (r"vset /action/game/(pause|resume)", self._pause),
                (r"vget /action/game/is_paused", lambda: "true" if self.paused else "false"),
                (r"vrun (.+)", lambda command: "ok"),
                (r"vbp (\S+) (\S+)(?: (.*))?", self._blueprint_call),
            ]
        ]

    # --- dispatch
    def handle(self, command: str) -> str | bytes:
        """The reply body to one command (never raises for a bad command: replies `error …`)."""
        command = " ".join(command.split())
        for pattern, handler in self._handlers:
            match = pattern.fullmatch(command)
            if match:
                try:
                    return handler(*match.groups())
                except _CommandError as error:
                    return f"error {error}"
        return NO_HANDLER.format(command)

    # --- cameras
    def _camera(self, cid: str) -> CameraState:
        camera = self.cameras.get(int(cid))
        if camera is None:
            raise _CommandError(f"Camera {cid} can not be found")
        return camera

    def _spawn_camera(self) -> str:
        cid = max(self.cameras) + 1
        self.cameras[cid] = CameraState()
        return str(cid)

    def _get_camera(self, cid: str, what: str) -> str:
        camera = self._camera(cid)
        value = getattr(camera, what)
        return _format_numbers(value if isinstance(value, tuple) else (value,))

    def _set_camera(self, cid: str, what: str, args: str) -> str:
        camera = self._camera(cid)
        numbers = _parse_numbers(args, {"location": 3, "rotation": 3, "fov": 1, "size": 2}[what])
        if what == "fov":
            if not 1 <= numbers[0] <= 170:
                raise _CommandError(f"fov {numbers[0]} out of range")
            camera.fov = numbers[0]
        elif what == "size":
            w, h = int(numbers[0]), int(numbers[1])
            if not (16 <= w <= 8192 and 16 <= h <= 8192):
                raise _CommandError(f"size {w}x{h} out of range")
            camera.size = (w, h)
        else:
            setattr(camera, what, tuple(numbers))
        return "ok"

    def sim_camera(self, cid: int) -> Camera:
        """The camera model of UnrealCV camera `cid` in the world frame."""
        state = self.cameras[cid]
        yaw, pitch, roll = unreal_to_camera_rotation(*state.rotation)
        width, height = state.size
        f = focal_from_horizontal_fov(state.fov, width)
        x, y, z = unreal_to_world_location(*state.location)
        return Camera(width, height, f, f, width / 2, height / 2, x, y, z, yaw, pitch, roll)

    # --- objects
    def _object(self, name: str) -> ObjectState:
        obj = self.objects.get(name)
        if obj is None:
            raise _CommandError(f"Can not find object {name}")
        return obj

    def _spawn_object(self, class_path: str, name: str) -> str:
        asset = next((a for a in self.catalog.assets if a.blueprint == class_path), None)
        if asset is None:
            raise _CommandError(f"Can not find class {class_path}")
        if name in self.objects:
            raise _CommandError(f"Object {name} already exists")
        self.objects[name] = ObjectState(asset=asset)
        return name

    def _get_object(self, name: str, what: str) -> str:
        obj = self._object(name)
        if what == "color":
            r, g, b = obj.mask_colour or (0, 0, 0)
            return f"(R={r},G={g},B={b},A=255)"
        return _format_numbers(getattr(obj, what))

    def _set_object(self, name: str, what: str, args: str) -> str:
        obj = self._object(name)
        if what == "color":
            rgb = tuple(int(v) for v in _parse_numbers(args, 3))
            if not all(0 <= v <= 255 for v in rgb):
                raise _CommandError(f"color {args} out of range")
            obj.mask_colour = rgb  # type: ignore[assignment]
        else:
            setattr(obj, what, tuple(_parse_numbers(args, 3)))
        return "ok"

    def _object_action(self, name: str, action: str) -> str:
        obj = self._object(name)
        if action == "destroy":
            del self.objects[name]
        else:
            obj.visible = action == "show"
        return "ok"

    def _blueprint_call(self, name: str, function: str, args: str | None) -> str:
        obj = self._object(name)
        if obj.asset is None or function != obj.asset.paint_function:
            raise _CommandError(f"Function {function} not found on {name}")
        rgb01 = _parse_numbers(args or "", 3)
        obj.paint_rgb = tuple(round(min(max(v, 0.0), 1.0) * 255) for v in rgb01)  # type: ignore[assignment]
        return "ok"

    def _pause(self, action: str) -> str:
        self.paused = action == "pause"
        return "ok"

    # --- the engine's own traffic
    def tick(self) -> None:
        """One engine tick: the engine's own traffic moves on unless the game is paused."""
        if self.traffic is None or self.paused:
            return
        world = self.traffic.step()
        alive = set()
        for actor in world.actors:
            spec = actor.spec
            asset = self.catalog.lookup(spec.category, spec.type)
            if asset is None:
                continue
            name = self._traffic_names.setdefault(
                actor.sumo_id, f"traffic_{spec.type}_{len(self._traffic_names)}"
            )
            alive.add(name)
            obj = self.objects.get(name)
            if obj is None:
                scale = tuple(s / a for s, a in zip(spec.size_m, asset.size_m, strict=True))
                obj = self.objects[name] = ObjectState(
                    asset=asset,
                    scale=scale,
                    paint_rgb=spec.colour_rgb,  # type: ignore[arg-type]
                )
            z = actor.z + (spec.size_m[2] / 2 if asset.pivot == "centre" else 0.0)
            obj.location = world_to_unreal_location(actor.x, actor.y, z)
            yaw = heading_to_unreal_yaw(math.degrees(actor.heading)) + asset.yaw_offset_deg
            obj.rotation = (0.0, yaw, 0.0)
        for name in set(self._traffic_names.values()) - alive:
            self.objects.pop(name, None)

    # --- rendering
    def world_state(self) -> tuple[WorldState, dict[str, int]]:
        """The drawable actors as a world state, with their instance ids (order of spawning)."""
        actors, ids = [], {}
        for index, (name, obj) in enumerate(self.objects.items()):
            if obj.asset is None or not obj.visible:
                continue
            asset = obj.asset
            size = tuple(s * k for s, k in zip(asset.size_m, obj.scale, strict=True))
            x, y, z = unreal_to_world_location(*obj.location)
            if asset.pivot == "centre":
                z -= size[2] / 2
            heading = math.radians(unreal_yaw_to_heading(obj.rotation[1] - asset.yaw_offset_deg))
            spec = ActorSpec(name, asset.category, asset.type, "", obj.paint_rgb, size)  # type: ignore[arg-type]
            actors.append(ActorState(name, spec, x, y, z, heading, 0.0, 0.0, ""))
            ids[name] = index
        return WorldState(0, 0.0, tuple(actors)), ids

    def _render(self, cid: int) -> tuple[RenderedFrame, dict[int, str]]:
        state = self.cameras[cid]
        key = (cid, state.location, state.rotation, state.fov, state.size)
        world, ids = self.world_state()
        scene_key = (
            key,
            tuple((a.sumo_id, a.x, a.y, a.z, a.heading, a.spec) for a in world.actors),
        )
        if self._frame_cache is not None and self._frame_cache[0] == scene_key:
            return self._frame_cache[1], self._frame_cache[2]
        renderer = self._renderers.get(key)
        if renderer is None:
            # The background is drawn once per camera pose, as the sim backend does per video.
            renderer = SimRenderer(
                self.sim_camera(cid), self.network, np.random.default_rng(self.render_seed)
            )
            self._renderers = {key: renderer}
        frame = renderer.render(world, ids)
        names = {i: n for n, i in ids.items()}
        self._frame_cache = (scene_key, frame, names)
        return frame, names

    def _capture(self, cid: str, kind: str, fmt: str) -> bytes:
        self._camera(cid)
        frame, names = self._render(int(cid))
        if kind == "lit":
            image_bgr = frame.image_bgr
        else:
            image_bgr = self._mask_image_bgr(frame.instance_mask, names)
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if fmt == "png" else []
        ok, data = cv2.imencode(f".{fmt}", image_bgr, params)
        if not ok:
            raise _CommandError(f"failed to encode {fmt}")
        return data.tobytes()

    def _mask_image_bgr(self, instance_mask: np.ndarray, names: dict[int, str]) -> np.ndarray:
        """The object mask: each object in its mask colour (slightly off, as UE renders it)."""
        lut = np.zeros((max(names, default=0) + 2, 3), np.uint8)  # row 0: background
        for iid, name in names.items():
            colour = self.objects[name].mask_colour
            if colour is None:  # runtime actors have no mask colour until it is set
                continue
            jitter = _jitter(name, self.mask_jitter)
            lut[iid + 1] = np.clip(np.array(colour[::-1]) + jitter, 0, 255)  # BGR
        return lut[np.where(instance_mask == BACKGROUND, 0, instance_mask + 1)]


class _CommandError(Exception):
    pass


def _parse_numbers(text: str, count: int) -> list[float]:
    parts = text.split()
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise _CommandError(f"expected {count} numbers, got '{text}'") from None
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        raise _CommandError(f"expected {count} numbers, got '{text}'")
    return numbers


def _format_numbers(values: tuple) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def _jitter(name: str, amount: int) -> np.ndarray:
    """A fixed per-object offset in [-amount, amount] per channel (deterministic)."""
    if amount <= 0:
        return np.zeros(3, np.int64)
    digest = hashlib.sha256(name.encode()).digest()
    return np.array([digest[i] % (2 * amount + 1) - amount for i in range(3)], np.int64)
