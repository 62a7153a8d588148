"""Observe mode: record the actors the engine moves itself, reading their poses back.

Puppeteer mode owns the poses (SUMO moves every actor). Observe mode is for scenes whose
motion the engine makes — Unreal's own traffic, a replayed recording, a level with its own
logic. Every frame: let the game run one frame period, pause, list the objects, give newly
seen actors a mask colour, read every actor's location, rotation and scale (batched), capture
`lit` and `object_mask`. An actor's colour is estimated once enough of it has been seen; one
never seen well enough keeps an unknown colour (`colour_name: null` in objects.json), which no
colour element of `uecity compose` matches. The actors become the same world state the rest
of the pipeline knows, so boxes, objects and frames are written as usual; motion intervals
are not derived (no route intents are known) and are left to the annotator.

Which objects are actors, and what they are, comes from name rules matched against whole
object names (`vget /objects` lists every actor, the engine's own included): a regular
expression per (category, type), the type optionally taken from a capture group — the asset
catalog's `observe` rules, or `uecity.unreal.catalog.DEFAULT_OBSERVE_RULES`.

UnrealCV has no frame-step command: between two captures the engine runs for as long as it
runs, not 1/fps. Each frame's timestamp is the game time that really passed, measured between
the engine's replies to `resume` and `pause` (`timestamps_s`), and a run whose frame intervals
stray from 1/fps is warned about.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from uecity.camera import Camera
from uecity.core.errors import ExternalToolError
from uecity.render.mask_boxes import decode_colour_mask, instance_colour
from uecity.render.protocol import BACKGROUND, FinishedFrame, RenderedFrame, SceneFact
from uecity.scene.spec import COLOURS
from uecity.traffic.demand import ActorSpec
from uecity.traffic.simulation import ActorState, WorldState
from uecity.unreal.backend import MASK_TOLERANCE, UnrealCvRenderer, decode_image
from uecity.unreal.coordinates import unreal_to_world_location, unreal_yaw_to_heading
from uecity.unreal.paint_check import estimate_colour

log = logging.getLogger(__name__)


def nearest_colour_name(rgb: np.ndarray) -> str:
    """The named colour (of the generator's palette) closest to an observed RGB colour."""
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names], np.float64)
    return names[int(np.argmin(((palette - rgb) ** 2).sum(axis=1)))]


@dataclass
class _Seen:
    """An engine actor as we know it: its instance id, what it is, and its colour once seen."""

    instance_id: int
    category: str
    type: str
    colour_rgb: tuple[int, int, int] | None = None


@dataclass
class EngineObserver:
    """Reads one video out of a running engine; both the frame source and the renderer.

    `frames(n)` yields the world state of each captured frame; `render(world, ids)` then gives
    that frame's capture, its mask re-labelled with the caller's instance ids.
    """

    renderer: UnrealCvRenderer
    fps: float
    min_colour_pixels: int = 64
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _last: tuple[int, RenderedFrame, dict[int, str]] | None = None
    _kinds: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # name → kind
    _unknown_kinds: set[tuple[str, str]] = field(default_factory=set)  # kinds without an asset
    timestamps_s: list[float] = field(default_factory=list)
    """Game time of each captured frame since the first, as measured (see the module)."""
    interval_tolerance: float = 0.25

    @property
    def camera(self) -> Camera:
        return self.renderer.camera

    def _classify(self, name: str) -> tuple[str, str] | None:
        """(category, type) of an object by the first rule its name matches, or None; once
        per name. A type without an asset (its size is the asset's) is skipped, with a warning."""
        if name in self._kinds:
            return self._kinds[name]
        catalog = self.renderer.catalog
        kind = next(filter(None, (rule.match(name) for rule in catalog.observe_rules())), None)
        if kind is not None and catalog.lookup(*kind) is None:
            if kind not in self._unknown_kinds:  # warned once per kind
                log.warning(
                    "observe mode: %s is a %s/%s by its name, which has no asset in the catalog "
                    "(its size comes from the asset); %s/%s actors are not recorded",
                    name, *kind, *kind,
                )  # fmt: skip
            self._unknown_kinds.add(kind)
            kind = None
        self._kinds[name] = kind
        return kind

    # --- the frame source
    def warm_up(self, seconds: float) -> None:
        """Let the engine run before recording (its own traffic fills the scene)."""
        self.renderer.connection.request("vset /action/game/resume")
        time.sleep(seconds)

    def frames(self, count: int) -> Iterator[WorldState]:
        connection = self.renderer.connection
        strays = 0
        for frame in range(count):
            if frame:  # the engine runs about one frame period between captures
                connection.request("vset /action/game/resume")
                resumed = time.monotonic()
                time.sleep(1.0 / self.fps)
                connection.request("vset /action/game/pause")
                ran = time.monotonic() - resumed
                self.timestamps_s.append(self.timestamps_s[-1] + ran)
                strays += abs(ran * self.fps - 1.0) > self.interval_tolerance
            else:
                connection.request("vset /action/game/pause")
                self.timestamps_s.append(0.0)
            world, rendered, names = self._capture(frame, self.timestamps_s[-1])
            self._last = (frame, rendered, names)
            yield world
        if strays:
            log.warning(
                "observe mode: %d of %d frame intervals strayed more than %d%% from 1/fps "
                "(the engine runs freely between captures); the measured times are in "
                "video.json's frame_times_s",
                strays, max(count - 1, 0), round(100 * self.interval_tolerance),
            )  # fmt: skip

    def _capture(
        self, frame: int, time_s: float
    ) -> tuple[WorldState, RenderedFrame, dict[int, str]]:
        connection = self.renderer.connection
        names = [n for n in str(connection.request("vget /objects")).split() if self._classify(n)]
        new = [n for n in names if n not in self._seen]
        colours = []
        for name in new:
            category, kind = self._classify(name)  # type: ignore[misc]
            seen = self._seen[name] = _Seen(len(self._seen), category, kind)
            r, g, b = instance_colour(seen.instance_id)
            colours.append(f"vset /object/{name}/color {r} {g} {b}")
        if colours:
            connection.request_batch(colours)
        reads = [f"vget /object/{n}/{what}" for n in names for what in ("location", "rotation",
                                                                        "scale")]  # fmt: skip
        cid, fmt = self.renderer.camera_id, self.renderer.options.image_format
        replies = connection.request_batch(
            [*reads, f"vget /camera/{cid}/lit {fmt}", f"vget /camera/{cid}/object_mask {fmt}"]
        )
        size = (self.camera.width, self.camera.height)
        image_bgr = decode_image(replies[-2], "lit", size)
        mask_bgr = decode_image(replies[-1], "object_mask", size)
        colours_bgr = {self._seen[n].instance_id: instance_colour(self._seen[n].instance_id)[::-1]
                       for n in names}  # fmt: skip
        ids = decode_colour_mask(mask_bgr, colours_bgr, MASK_TOLERANCE)
        actors = []
        for k, name in enumerate(names):
            location, rotation, scale = (_numbers(replies[3 * k + j], name) for j in range(3))
            seen = self._seen[name]
            if seen.colour_rgb is None:
                self._estimate_colour(seen, image_bgr, ids)
            asset = self.renderer.catalog.lookup(seen.category, seen.type)
            base = asset.size_m if asset is not None else (1.0, 1.0, 1.0)
            size = tuple(b * abs(s) for b, s in zip(base, scale, strict=True))
            x, y, z = unreal_to_world_location(*location)
            if asset is not None and asset.pivot == "centre":
                z -= size[2] / 2
            yaw = rotation[1] - (asset.yaw_offset_deg if asset is not None else 0.0)
            # A colour never seen stays unknown (None): a guess would become "grey car".
            rgb = seen.colour_rgb
            colour_name = None if rgb is None else nearest_colour_name(np.array(rgb))
            spec = ActorSpec(
                name,
                seen.category,
                seen.type,
                colour_name,
                rgb,
                size,  # type: ignore[arg-type]
            )
            heading = math.radians(unreal_yaw_to_heading(yaw))
            actors.append(ActorState(name, spec, x, y, z, heading, 0.0, 0.0, ""))
        rendered = RenderedFrame(image_bgr, ids, None)
        names_by_id = {self._seen[n].instance_id: n for n in names}
        return WorldState(frame, time_s, tuple(actors)), rendered, names_by_id

    def _estimate_colour(self, seen: _Seen, image_bgr: np.ndarray, ids: np.ndarray) -> None:
        """The actor's colour, once enough of it is visible: the median of its brighter half of
        pixels (the lit paint, not windows, tyres or the shaded side)."""
        seen.colour_rgb = estimate_colour(
            image_bgr[ids == seen.instance_id], self.min_colour_pixels
        )

    # --- the renderer
    def start(self, world: WorldState, instance_ids: Mapping[str, int]) -> FinishedFrame:
        return FinishedFrame(self.render(world, instance_ids))

    def render(self, world: WorldState, instance_ids: Mapping[str, int]) -> RenderedFrame:
        """The capture of `world` (just yielded by `frames`), with the caller's instance ids."""
        if self._last is None or self._last[0] != world.frame:
            raise ExternalToolError(f"observe mode: frame {world.frame} was not captured")
        _, rendered, names = self._last
        lut = np.full(max(names, default=0) + 2, BACKGROUND, np.int32)  # [-1] → background
        for ours, name in names.items():
            lut[ours] = instance_ids.get(name, BACKGROUND)
        return RenderedFrame(rendered.image_bgr, lut[rendered.instance_mask], None)

    def asset_name(self, spec: ActorSpec) -> str:
        return f"engine/{spec.sumo_id}"

    def scene_facts(self) -> dict[str, SceneFact]:
        """The engine's level decides the scene; nothing of it is chosen here."""
        return {}

    @property
    def frame_times_s(self) -> tuple[float, ...]:
        """The game times of the captured frames, as measured (`timestamps_s`)."""
        return tuple(self.timestamps_s)

    def close(self) -> None:
        self.renderer.close()


def _numbers(reply: str | bytes, name: str) -> tuple[float, float, float]:
    text = reply.decode() if isinstance(reply, bytes) else reply
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ExternalToolError(f"the engine answered {text!r} for a pose of {name}")
    return values  # type: ignore[return-value]
