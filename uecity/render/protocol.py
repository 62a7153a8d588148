"""The contract every render backend meets: a world state in, an image and an instance mask out.

A backend is a small class built for one video (static camera, static scene); `render` is then
called once per frame, or `start` and the returned `PendingFrame`'s `wait` and `result`, which
let a backend whose rendering happens elsewhere (an engine) work while the caller processes the
previous frame. The `sim` backend (`uecity.render.sim`) draws with numpy/OpenCV; the
`unrealcv` backend (a later issue) poses actors in Unreal Engine and decodes its object mask with
`uecity.render.mask_boxes.decode_colour_mask`. Boxes are then computed the same way for both by
`uecity.render.mask_boxes.boxes_from_mask`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from uecity.camera import Camera
from uecity.traffic.demand import ActorSpec
from uecity.traffic.simulation import WorldState

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

    def close(self) -> None:
        """Release what the backend holds (a connection, an engine)."""
        ...
