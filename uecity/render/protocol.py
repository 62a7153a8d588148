"""The contract every render backend meets: a world state in, an image and an instance mask out.

A `RenderBackend` is what a run knows of a backend: the checks it needs before any video
(`check_run`), a `Renderer` per video, and, in observe mode, the engine's own traffic as the
video's `FrameSource`. The recipe (`uecity.generate.worker`) knows nothing else of it.

A `Renderer` is a small class built for one video (static camera, static scene); `render` is
then called once per frame, or `start` and the returned `PendingFrame`'s `wait` and `result`,
which let a backend whose rendering happens elsewhere (an engine) work while the caller
processes the previous frame. The `sim` backend (`uecity.render.sim`) draws with numpy/OpenCV;
the `unrealcv` backend (`uecity.unreal.backend`) poses actors in Unreal Engine and decodes its
object mask with `uecity.render.mask_boxes.decode_colour_mask`. Boxes are then computed the same
way for both by `uecity.render.mask_boxes.frame_boxes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from uecity.camera import Camera
from uecity.traffic.demand import ActorSpec
from uecity.traffic.simulation import WorldState

if TYPE_CHECKING:
    from uecity.scene.spec import SceneSpec
    from uecity.traffic.network import Network

SceneFact = str | int | float | bool

BACKGROUND = -1  # instance-mask value of pixels that show no actor


@dataclass
class RenderedFrame:
    """One rendered frame.

    image_bgr: (H, W, 3) uint8 in OpenCV's BGR channel order.
    instance_mask: (H, W) int32, the instance id of the actor seen at each pixel, or BACKGROUND.
    unoccluded_pixels: for each instance id drawn, the pixels it would cover inside the image
        with no other actor in front of it (the denominator of visibility). A backend that
        cannot tell leaves it None and visibility falls back to the projected 3D box.
    """

    image_bgr: np.ndarray
    instance_mask: np.ndarray
    unoccluded_pixels: dict[int, int] | None = None

    def __post_init__(self) -> None:
        h, w = self.instance_mask.shape
        if self.image_bgr.shape != (h, w, 3) or self.image_bgr.dtype != np.uint8:
            raise ValueError(f"image must be ({h}, {w}, 3) uint8, got {self.image_bgr.shape}")
        if self.instance_mask.dtype != np.int32:
            raise ValueError("instance_mask must be int32")


class PendingFrame(Protocol):
    """A frame being rendered."""

    def wait(self) -> None:
        """Block until the backend has rendered the frame (the rest of `result` is local work)."""
        ...

    def result(self) -> RenderedFrame:
        """The rendered frame (waits first if need be)."""
        ...


@dataclass(frozen=True)
class FinishedFrame:
    """The `PendingFrame` of a backend that renders at once, in the caller's process."""

    frame: RenderedFrame

    def wait(self) -> None:
        pass

    def result(self) -> RenderedFrame:
        return self.frame


class Renderer(Protocol):
    """A render backend bound to one video's camera and scene."""

    camera: Camera

    def render(self, world: WorldState, instance_ids: Mapping[str, int]) -> RenderedFrame:
        """Draw the actors of `world`; `instance_ids` maps a SUMO id to its mask value (>= 0)."""
        ...

    def start(self, world: WorldState, instance_ids: Mapping[str, int]) -> PendingFrame:
        """Begin rendering `world` and return; the caller may work on earlier frames meanwhile.
        Frames finish in the order they were started (a backend bounds how many are in flight,
        waiting for the oldest first)."""
        ...

    def asset_name(self, spec: ActorSpec) -> str:
        """The asset this backend draws an actor with (recorded in objects.json)."""
        ...

    def scene_facts(self) -> dict[str, SceneFact]:
        """What the backend chose for this video's scene (e.g. the sun's elevation), for
        video.json's `scene`; empty where it chose nothing."""
        ...

    def close(self) -> None:
        """Release what the backend holds (a connection, an engine)."""
        ...


class FrameSource(Protocol):
    """Where a video's world states come from: SUMO (puppeteer) or the engine (observe)."""

    def warm_up(self, seconds: float) -> None:
        """Run the traffic before recording, so the scene is busy when recording starts."""
        ...

    def frames(self, count: int) -> Iterator[WorldState]:
        """The world state of each of `count` frames, in order."""
        ...

    @property
    def frame_times_s(self) -> tuple[float, ...] | None:
        """The frames' times as measured, or None where they are exactly 1/fps apart."""
        ...


class ObservedEngine(FrameSource, Renderer, Protocol):
    """Observe mode: an engine that moves its own traffic is both frame source and renderer."""


class RenderBackend(Protocol):
    """A render backend as a run sees it (picklable: it travels to the worker processes)."""

    def check_run(self, spec: SceneSpec, workers: int) -> None:
        """Refuse a run this backend cannot do, before any video (raises a `UECityError`)."""
        ...

    def renderer(self, camera: Camera, network: Network, rng: np.random.Generator) -> Renderer:
        """The renderer of one video; `rng` is the video's render generator."""
        ...

    def observe(self, renderer: Renderer, fps: float) -> ObservedEngine:
        """Observe mode: the engine's own traffic, read through `renderer` (a backend without
        an engine of its own refuses with a `SpecError`)."""
        ...
