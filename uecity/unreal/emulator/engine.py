"""The pretend level behind `uecity serve-sim`, answering commands as UnrealCV 5.2 does.

Every handler follows the plugin's source (unrealcv/unrealcv, branch 5.2, `Source/UnrealCV/
Private/`), not what our client would like to hear; docs/unreal.md lists each behaviour with the
file it was read from. What a client can observe:
- **Dispatch** (`Server/CommandDispatcher.cpp`): templates with `[str]` = `([^ ]*)`, `[uint]` =
  `(\\d*)`, `[float]` = `([-+]?\\d*[.]?\\d+)` (no exponent, no `nan`), trailing spaces allowed;
  anything else is `error No handler found for URI '<cmd>'`.
- **Cameras** (`Commands/CameraHandler.cpp`, `BPFunctionLib/SensorBPLib.cpp`): a camera id is an
  index in the sensor list, the player pawn's `PawnSensor` first (id 0), then each
  `FusionCameraActor`'s `FusionCameraSensor` in object order; `vset /cameras/spawn` answers the
  new actor's *name*; a camera is destroyed as an object (`vset /object/<name>/destroy`), which
  shifts the later ids. Camera 0 moves the pawn, and its view refreshes only while the game runs.
- **Spawning** (`Commands/ObjectHandler.cpp`): only a class already loaded is found (the level
  declares which); a live actor of the requested name is refused; a name still held by a
  destroyed actor awaiting garbage collection makes the engine crash (Unreal's fatal rename).
- **Images** (`Utils/ImageUtil.cpp`): BMP is 32-bit BGRA, top-down, with the 4-byte element
  count of a serialised `TArray` between the 54-byte header and the pixels; PNG is RGBA.
- **Blueprint calls** (`Commands/AliasHandler.cpp`): `vbp` needs the viewport console (none in a
  Shipping build), answers the out-parameters as JSON, and on an argument that does not parse
  answers the same JSON without running the function.
- **Objects**: `vget /objects` lists every actor, the engine's own included; numbers are
  `%.3f` (poses, scale), `%f` (fov), `%d %d` (size).
Actors are drawn by the embedded renderer from their Unreal pose converted back to the world
frame, so the same poses give the same boxes as the `sim` backend.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from uecity.camera import Camera
from uecity.render.protocol import BACKGROUND, RenderedFrame
from uecity.render.sim import SimRenderer
from uecity.scene.spec import COLOURS
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
from uecity.unreal.emulator.traffic import EngineTraffic

NO_HANDLER = "error No handler found for URI '{}'"
INVALID = "Argument Invalid"  # FExecStatus::InvalidArgument
PROJECT_NAME = "UECitySim"
UNPAINTED_RGB = (128, 128, 128)
"""An actor whose paint never ran shows its material's default colour (`M_UECityPaint`'s 0.5)."""

Platform = Literal["linux", "windows"]
Build = Literal["editor", "packaged", "shipping"]

_TYPES = {"str": r"([^ ]*)", "uint": r"(\d*)", "float": r"([-+]?\d*[.]?\d+)"}


class EngineCrashed(Exception):
    """The emulated engine hit a fatal error (Unreal would exit): the server goes down."""


@dataclass(frozen=True)
class EngineBehaviour:
    """Which real engine `serve-sim` is: platform, kind of build, plugin version."""

    platform: Platform = "linux"
    """Linux: one TCP session per process, then the Unix socket; Windows: TCP again and again."""
    build: Build = "packaged"
    """`editor` (Play-in-Editor / Standalone from the editor: small generated name numbers),
    `packaged` (a cooked Development build: large generated numbers), `shipping` (cooked, and
    no viewport console: `vbp` fails)."""
    legacy_vbatch: bool = False
    """A plugin build before 2026-03-04: `vbatch` answers `ok` and changes nothing, and every
    request queued at a tick runs in it (no 32-request cap)."""
    gc_interval_s: float = 60.0
    """Garbage collection: a destroyed actor's name stays held until the next one."""

    @property
    def cooked(self) -> bool:
        return self.build != "editor"


@dataclass
class CameraActor:
    """A `FusionCameraActor`: its sensor's pose and film."""

    location: tuple[float, float, float] = (0.0, 0.0, 0.0)  # cm
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pitch yaw roll
    fov: float = 90.0
    size: tuple[int, int] = (640, 480)  # unrealcv.ini's Width/Height


@dataclass
class ObjectState:
    """An actor of the world."""

    asset: AssetEntry | None = None  # None: not drawn (engine actors, level props, cameras)
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)  # cm
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pitch yaw roll
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    mask_colour: tuple[int, int, int] | None = None
    paint_rgb: tuple[int, int, int] = UNPAINTED_RGB
    visible: bool = True
    camera: CameraActor | None = None
    paint_function: str | None = None


# What a level has before anyone spawns anything: what the editor saved (with its names) and
# what the game framework spawns at BeginPlay (generated names). `BP_Bush_C_1` and
# `BP_Cart_C_2` are the props that substring rules mistake for a bus and a car.
LEVEL_ACTORS = ("WorldSettings", "StaticMeshActor_0", "DirectionalLight_0", "SkyLight_0",
                "SkyAtmosphere_0", "PlayerStart_0", "BP_Bush_C_1", "BP_Cart_C_2")  # fmt: skip
FRAMEWORK_ACTORS = ("GameModeBase", "GameSession", "GameNetworkManager", "GameStateBase",
                    "PlayerController", "PlayerState", "PlayerCameraManager", "DefaultPawn",
                    "HUD", "ParticleEventManager", "UnrealcvWorldController")  # fmt: skip


@dataclass(frozen=True)
class _LoadedClass:
    asset: AssetEntry
    paint_rgb: tuple[int, int, int]  # a colour variant's own colour, else the default


@dataclass
class SimEngine:
    """The state of the pretend level, and the handlers of the commands we emulate."""

    network: Network
    catalog: AssetCatalog
    behaviour: EngineBehaviour = field(default_factory=EngineBehaviour)
    loaded_classes: frozenset[str] | None = None
    """Classes the level loads (references); None: every class of the catalog, as the level
    `ue_project/Scripts/setup_level.py` makes references each of them."""
    render_seed: int = 0
    mask_jitter: int = 2
    """Mask colours come back off by up to this much per channel, as UE's gamma rounding does."""
    traffic: EngineTraffic | None = None
    """Traffic the engine moves itself (observe mode); None: only what clients spawn moves."""
    clock: Callable[[], float] | None = None
    """Seconds for garbage collection; None: the number of ticks × 16 ms."""
    objects: dict[str, ObjectState] = field(default_factory=dict)
    paused: bool = False
    ticks: int = 0
    pawn_camera: CameraActor = field(default_factory=CameraActor)
    _garbage: dict[str, float] = field(default_factory=dict, repr=False)
    _next_gc: float = 0.0
    _name_counter: int = 0
    _classes: dict[str, _LoadedClass] = field(default_factory=dict, repr=False)
    _pawn_snapshot: tuple | None = field(default=None, repr=False)
    _traffic_names: dict[str, str] = field(default_factory=dict, repr=False)
    _renderers: dict[tuple, SimRenderer] = field(default_factory=dict, repr=False)
    _frame_cache: tuple[tuple, RenderedFrame, dict[int, str]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        self._load_classes()
        self._name_counter = 2147482000 if self.behaviour.cooked else 0
        for name in LEVEL_ACTORS:
            self.objects[name] = ObjectState()
        for kind in FRAMEWORK_ACTORS:
            self.objects[self._generated_name(kind)] = ObjectState()
        self.pawn_camera = CameraActor(location=(-3000.0, 0.0, 1500.0), rotation=(-25.0, 0.0, 0.0))
        self._next_gc = self.behaviour.gc_interval_s
        self._handlers = [(re.compile(_template_regex(t)), h) for t, h in self._templates()]

    def _load_classes(self) -> None:
        for asset in self.catalog.assets:
            variants = {c: asset.variant_class(c) for c in COLOURS}
            for colour, path in [(None, asset.blueprint), *variants.items()]:
                if asset.paint_mode == "function" and colour is not None:
                    continue
                if self.loaded_classes is not None and path not in self.loaded_classes:
                    continue
                rgb = COLOURS[colour] if colour else UNPAINTED_RGB
                loaded = _LoadedClass(asset, rgb)
                self._classes[path] = loaded
                self._classes[path.rpartition(".")[2]] = loaded  # `BP_Car_C` finds it too

    def _templates(self) -> list[tuple[str, Callable[..., str | bytes]]]:
        return [
            ("vget /unrealcv/status", self._status),
            ("vget /unrealcv/version", lambda: "v1.0.0"),
            ("vget /cameras", self._camera_list),
            ("vset /cameras/spawn", self._spawn_camera),
            ("vget /camera/[uint]/location", lambda c: self._camera_get(c, "location")),
            ("vget /camera/[uint]/rotation", lambda c: self._camera_get(c, "rotation")),
            ("vset /camera/[uint]/location [float] [float] [float]",
             lambda c, *v: self._camera_set(c, "location", v)),
            ("vset /camera/[uint]/rotation [float] [float] [float]",
             lambda c, *v: self._camera_set(c, "rotation", v)),
            ("vget /camera/[uint]/fov", self._camera_fov),
            ("vset /camera/[uint]/fov [float]", self._camera_set_fov),
            ("vget /camera/[uint]/size", self._camera_size),
            ("vset /camera/[uint]/size [uint] [uint]", self._camera_set_size),
            ("vget /camera/[uint]/lit [str]", lambda c, f: self._capture(c, "lit", f)),
            ("vget /camera/[uint]/object_mask [str]",
             lambda c, f: self._capture(c, "object_mask", f)),
            ("vget /objects", lambda: "".join(f"{n} " for n in self.objects)),
            ("vset /objects/spawn [str]", lambda cls: self._spawn_object(cls, None)),
            ("vset /objects/spawn [str] [str]", self._spawn_object),
            ("vget /object/[str]/location", lambda n: _fmt3(self._actor(n).location)),
            ("vget /object/[str]/rotation", lambda n: _fmt3(self._actor(n).rotation)),
            ("vget /object/[str]/scale", lambda n: _fmt3(self._actor(n).scale)),
            ("vset /object/[str]/location [float] [float] [float]",
             lambda n, *v: self._object_set(n, "location", v)),
            ("vset /object/[str]/rotation [float] [float] [float]",
             lambda n, *v: self._object_set(n, "rotation", v)),
            ("vset /object/[str]/scale [float] [float] [float]",
             lambda n, *v: self._object_set(n, "scale", v)),
            ("vget /object/[str]/color", self._get_colour),
            ("vset /object/[str]/color [uint] [uint] [uint]", self._set_colour),
            ("vset /object/[str]/show", lambda n: self._show(n, True)),
            ("vset /object/[str]/hide", lambda n: self._show(n, False)),
            ("vset /object/[str]/destroy", self._destroy),
            ("vset /action/game/pause", lambda: self._pause(True)),
            ("vset /action/game/resume", lambda: self._pause(False)),
            ("vget /action/game/is_paused", lambda: "true" if self.paused else "false"),
            *((f"vrun{' [str]' * k}", lambda *a: "ok") for k in range(1, 7)),
            *((f"vbp [str] [str]{' [str]' * k}", self._blueprint_call) for k in range(10)),
        ]  # fmt: skip

    # --- dispatch
    def handle(self, command: str) -> str | bytes:
        """The reply body to one command; never raises for a bad command (replies `error …`).

        Raises `EngineCrashed` where Unreal would exit."""
        for pattern, handler in self._handlers:
            match = pattern.fullmatch(command)
            if match:
                try:
                    return handler(*match.groups())
                except _CommandError as error:
                    return f"error {error}"
        return NO_HANDLER.format(command)

    def _status(self) -> str:
        return f"Is Listening\nClient Connected\n{PROJECT_NAME}"

    def _generated_name(self, class_name: str) -> str:
        """A runtime object's name, `<Class>_<N>`: small N in the editor, large when cooked."""
        name = f"{class_name}_{self._name_counter}"
        self._name_counter += -1 if self.behaviour.cooked else 1
        return name

    # --- cameras: the sensor list
    def sensors(self) -> list[tuple[str, CameraActor]]:
        """(sensor name, camera) in id order: the pawn's first, then every camera actor's."""
        cameras = [("PawnSensor", self.pawn_camera)]
        cameras += [("FusionCameraSensor", o.camera) for o in self.objects.values() if o.camera]
        return cameras

    def _sensor(self, cid: str) -> CameraActor:
        sensors = self.sensors()
        index = int(cid) if cid else 0  # FCString::Atoi("") is 0
        if index >= len(sensors):
            raise _CommandError("Invalid sensor id")
        return sensors[index][1]

    def _camera_list(self) -> str:
        return "".join(f"{name} " for name, _ in self.sensors())

    def _spawn_camera(self) -> str:
        name = self._generated_name("FusionCameraActor")
        self.objects[name] = ObjectState(camera=CameraActor())
        return name

    def _camera_get(self, cid: str, what: str) -> str:
        return _fmt3(getattr(self._sensor(cid), what))

    def _camera_set(self, cid: str, what: str, values: tuple[str, ...]) -> str:
        camera = self._sensor(cid)
        setattr(camera, what, tuple(float(v) for v in values))
        if camera is not self.pawn_camera:
            owner = next(o for o in self.objects.values() if o.camera is camera)
            setattr(owner, what, getattr(camera, what))
        return "ok"

    def _camera_fov(self, cid: str) -> str:
        return f"{self._film_sensor(cid).fov:f}"

    def _camera_set_fov(self, cid: str, fov: str) -> str:
        self._film_sensor(cid).fov = float(fov)
        return "ok"

    def _camera_size(self, cid: str) -> str:
        width, height = self._film_sensor(cid).size
        return f"{width} {height}"

    def _camera_set_size(self, cid: str, width: str, height: str) -> str:
        self._film_sensor(cid).size = (int(width or 0), int(height or 0))
        return "ok"

    def _film_sensor(self, cid: str) -> CameraActor:
        """fov and size answer `Argument Invalid` for a bad id (location answers otherwise)."""
        try:
            return self._sensor(cid)
        except _CommandError:
            raise _CommandError(INVALID) from None

    # --- objects
    def _actor(self, name: str) -> ObjectState:
        obj = self.objects.get(name)
        if obj is None:
            raise _CommandError("Cannot find object")
        return obj

    def _spawn_object(self, class_name: str, name: str | None) -> str:
        if name is not None and name in self.objects:
            raise _CommandError(f"Failed to spawn {name}, object exists.")
        loaded = self._classes.get(class_name)
        if loaded is None:
            raise _CommandError(f"Can not find a class with name '{class_name}'")
        self._collect_garbage()
        if name is not None and name in self._garbage:
            raise EngineCrashed(
                f"Fatal error: renaming an actor onto '{name}', a name still held by a destroyed "
                "actor awaiting garbage collection"
            )
        asset = loaded.asset
        obj = ObjectState(
            asset=asset,
            paint_rgb=loaded.paint_rgb,
            paint_function=asset.paint_function if asset.paint_mode == "function" else None,
        )
        final = name or self._generated_name(class_name.rpartition(".")[2])
        self.objects[final] = obj
        return final

    def _object_set(self, name: str, what: str, values: tuple[str, ...]) -> str:
        obj = self._actor(name)
        setattr(obj, what, tuple(float(v) for v in values))
        if obj.camera is not None and what in ("location", "rotation"):
            setattr(obj.camera, what, getattr(obj, what))
        return "ok"

    def _get_colour(self, name: str) -> str:
        r, g, b = self._actor(name).mask_colour or (0, 0, 0)
        return f"(R={r},G={g},B={b},A=255)"

    def _set_colour(self, name: str, r: str, g: str, b: str) -> str:
        obj = self._actor(name)
        obj.mask_colour = tuple(int(v or 0) & 0xFF for v in (r, g, b))  # type: ignore[assignment]  # FColor's uint8
        return "ok"

    def _show(self, name: str, visible: bool) -> str:
        self._actor(name).visible = visible
        return "ok"

    def _destroy(self, name: str) -> str:
        self._actor(name)
        del self.objects[name]
        self._garbage[name] = self.now()  # the name stays held until garbage collection
        return "ok"

    def _collect_garbage(self) -> None:
        if self.now() >= self._next_gc:
            self._garbage.clear()
            self._next_gc = self.now() + self.behaviour.gc_interval_s

    def now(self) -> float:
        return self.clock() if self.clock is not None else self.ticks * 0.016

    def _blueprint_call(self, name: str, function: str, *args: str) -> str:
        if name not in self.objects:
            raise _CommandError(f"Can not find actor with id '{name}'")
        if self.behaviour.build == "shipping":
            raise _CommandError("No viewport console available")
        obj = self.objects[name]
        if obj.paint_function is None or function != obj.paint_function:
            raise _CommandError(INVALID)
        try:
            rgb01 = [float(a) for a in args]
        except ValueError:
            rgb01 = []
        if len(rgb01) == 3:  # else the argument import failed: logged, the function not run
            obj.paint_rgb = tuple(round(min(max(v, 0.0), 1.0) * 255) for v in rgb01)  # type: ignore[assignment]
        return "{}"  # the out-parameters as JSON, whether the function ran or not

    def _pause(self, paused: bool) -> str:
        if paused and not self.paused:
            self._pawn_snapshot = self._scene_key(self.pawn_camera)
        self.paused = paused
        return "ok"

    # --- the engine's ticks and its own traffic
    def tick(self) -> None:
        """One engine tick: the engine's own traffic moves on unless the game is paused."""
        self.ticks += 1
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
                    scale=scale,  # type: ignore[arg-type]
                    paint_rgb=spec.colour_rgb,  # type: ignore[arg-type]
                )
            z = actor.z + (spec.size_m[2] / 2 if asset.pivot == "centre" else 0.0)
            obj.location = world_to_unreal_location(actor.x, actor.y, z)
            yaw = heading_to_unreal_yaw(math.degrees(actor.heading)) + asset.yaw_offset_deg
            obj.rotation = (0.0, yaw, 0.0)
        for name in set(self._traffic_names.values()) - alive:
            self.objects.pop(name, None)

    # --- rendering
    def sim_camera(self, camera: CameraActor) -> Camera:
        """The camera model of a sensor in the world frame."""
        yaw, pitch, roll = unreal_to_camera_rotation(*camera.rotation)
        width, height = camera.size
        f = focal_from_horizontal_fov(camera.fov, width)
        x, y, z = unreal_to_world_location(*camera.location)
        return Camera(width, height, f, f, width / 2, height / 2, x, y, z, yaw, pitch, roll)

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

    def _scene_key(self, camera: CameraActor) -> tuple:
        world, ids = self.world_state()
        masks = tuple(self.objects[a.sumo_id].mask_colour for a in world.actors)
        return (replace(camera), world, ids, masks)

    def _render(self, camera: CameraActor) -> tuple[RenderedFrame, dict[int, str], tuple]:
        if camera is self.pawn_camera and self.paused and self._pawn_snapshot is not None:
            scene = self._pawn_snapshot  # the pawn's view refreshes only while the game runs
        else:
            scene = self._scene_key(camera)
        state, world, ids, masks = scene
        key = (state.location, state.rotation, state.fov, state.size)
        full_key = (key, tuple((a.sumo_id, a.x, a.y, a.z, a.heading, a.spec) for a in world.actors))
        if self._frame_cache is not None and self._frame_cache[0] == full_key:
            return self._frame_cache[1], self._frame_cache[2], masks
        renderer = self._renderers.get(key)
        if renderer is None:
            # The background is drawn once per camera pose, as the sim backend does per video.
            renderer = SimRenderer(
                self.sim_camera(state), self.network, np.random.default_rng(self.render_seed)
            )
            self._renderers = {key: renderer}
        frame = renderer.render(world, ids)
        names = {i: n for n, i in ids.items()}
        self._frame_cache = (full_key, frame, names)
        return frame, names, masks

    def _capture(self, cid: str, kind: str, fmt: str) -> bytes | str:
        camera = self._sensor(cid)
        if fmt not in ("png", "bmp"):  # npy is for depth/normal; a file name saves on disk
            raise _CommandError(f"Invalid filename type, filename {fmt}")
        width, height = camera.size
        if width <= 0 or height <= 0:
            return "ok"  # a capture that fails: the plugin answers an empty (ok) reply
        frame, names, masks = self._render(camera)
        if kind == "lit":
            image_bgr = frame.image_bgr
        else:
            colours = dict(zip(names.values(), masks, strict=True))
            image_bgr = self._mask_image_bgr(frame.instance_mask, names, colours)
        bgra = np.dstack([image_bgr, np.full(image_bgr.shape[:2], 255, np.uint8)])
        return encode_bmp(bgra) if fmt == "bmp" else encode_png(bgra)

    def _mask_image_bgr(
        self,
        instance_mask: np.ndarray,
        names: dict[int, str],
        colours: dict[str, tuple[int, int, int] | None],
    ) -> np.ndarray:
        """The object mask: each object in its mask colour (slightly off, as UE renders it)."""
        lut = np.zeros((max(names, default=0) + 2, 3), np.uint8)  # row 0: background
        for iid, name in names.items():
            colour = colours.get(name)
            if colour is None:  # runtime actors have no mask colour until it is set
                continue
            jitter = _jitter(name, self.mask_jitter)
            lut[iid + 1] = np.clip(np.array(colour[::-1]) + jitter, 0, 255)  # BGR
        return lut[np.where(instance_mask == BACKGROUND, 0, instance_mask + 1)]


class _CommandError(Exception):
    pass


def _template_regex(template: str) -> str:
    """A command template as the dispatcher's regular expression (`FormatUri`)."""
    parts = re.split(r"\[(str|uint|float)\]", template)
    out = "".join(_TYPES[p] if k % 2 else re.escape(p) for k, p in enumerate(parts))
    return out + "[ ]*"


def encode_bmp(bgra: np.ndarray) -> bytes:
    """The plugin's BMP (`FImageUtil::ConvertToBmp`): BITMAPFILEHEADER + BITMAPINFOHEADER
    (32 bits, height −H: top-down, `bfOffBits` 54), then the pixels as a serialised
    `TArray<uint8>`, so a 4-byte element count comes first and the pixels start at byte 58."""
    height, width = bgra.shape[:2]
    count = width * height * 4
    file_header = struct.pack("<2sIHHI", b"BM", 54 + count, 0, 0, 54)
    info_header = struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 32, 0, 0, 1024, 1024, 0, 0)
    return file_header + info_header + struct.pack("<i", count) + bgra.tobytes()


def encode_png(bgra: np.ndarray) -> bytes:
    """8-bit RGBA PNG of the BGRA pixels (the plugin's image wrapper, `ERGBFormat::BGRA`)."""
    ok, data = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise _CommandError("failed to encode png")
    return data.tobytes()


def _fmt3(values: tuple[float, float, float]) -> str:
    return "{:.3f} {:.3f} {:.3f}".format(*values)


def _jitter(name: str, amount: int) -> np.ndarray:
    """A fixed per-object offset in [-amount, amount] per channel (deterministic)."""
    if amount <= 0:
        return np.zeros(3, np.int64)
    digest = hashlib.sha256(name.encode()).digest()
    return np.array([digest[i] % (2 * amount + 1) - amount for i in range(3)], np.int64)
