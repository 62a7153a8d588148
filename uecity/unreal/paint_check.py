"""Did each actor come out in its colour? The check behind every Unreal video.

Painting can fail silently on a real engine: `vbp` needs the viewport console (none in a
Shipping build), and on an argument that does not parse the plugin answers exactly as on
success without running the function. So the colour is checked where it shows, in the lit
frame: the first time an actor covers enough pixels, the median of its brighter half (the lit
paint, not windows, tyres or the shaded side) is compared with its paint colour by
chromaticity (brightness varies with the light; hue does not). Achromatic paints (black, white,
grey, silver) cannot be told from an unpainted default grey and are not judged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from uecity.render.mask_boxes import Rect
from uecity.traffic.simulation import ActorState

log = logging.getLogger(__name__)

MIN_PIXELS = 64
MIN_CHROMA = 0.08
"""Paints less saturated than this (distance of r,g,b/sum from 1/3) are not judged."""
MIN_BRIGHTNESS = 48
"""A view whose brightest channel is below this (deep shade, far away) says nothing of hue:
the actor is judged on a later frame."""


def estimate_colour(
    pixels_bgr: np.ndarray, min_pixels: int = MIN_PIXELS
) -> tuple[int, int, int] | None:
    """The RGB colour of an object from its (N, 3) BGR pixels: the median of the brighter half;
    None with fewer than `min_pixels`."""
    if len(pixels_bgr) < min_pixels:
        return None
    pixels = pixels_bgr.astype(np.float64)
    luminance = pixels @ np.array([0.114, 0.587, 0.299])
    b, g, r = np.median(pixels[luminance >= np.median(luminance)], axis=0)
    return int(r), int(g), int(b)


def _chromaticity(rgb: Sequence[float]) -> np.ndarray:
    values = np.asarray(rgb, np.float64) + 1.0
    return values / values.sum()


def looks_unpainted(seen_rgb: Sequence[float], paint_rgb: Sequence[float]) -> bool:
    """Whether a colour seen in the lit frame is nearer a neutral grey than the paint colour
    (by chromaticity); False for achromatic paints, which cannot be told apart."""
    paint, seen = _chromaticity(paint_rgb), _chromaticity(seen_rgb)
    grey = np.full(3, 1 / 3)
    if np.linalg.norm(paint - grey) < MIN_CHROMA:
        return False
    return bool(np.linalg.norm(seen - grey) < np.linalg.norm(seen - paint))


@dataclass
class PaintCheck:
    """Judges each actor once, when it first shows enough pixels; `report` warns."""

    judged: set[str] = field(default_factory=set)
    unpainted: dict[str, str] = field(default_factory=dict)
    """Engine name → why it is thought unpainted."""

    def call_failed(self, name: str, reply: str) -> None:
        self.unpainted[name] = f"its paint call failed ({reply})"
        self.judged.add(name)

    def look(
        self,
        actors: Sequence[ActorState],
        names: Mapping[str, str],
        instance_ids: Mapping[str, int],
        image_bgr: np.ndarray,
        ids: np.ndarray,
        regions: Mapping[int, Rect],
    ) -> None:
        for actor in actors:
            name = names.get(actor.sumo_id)
            iid = instance_ids[actor.sumo_id]
            if name is None or name in self.judged or iid not in regions:
                continue
            x0, y0, x1, y1 = regions[iid]
            inside = ids[y0:y1, x0:x1] == iid
            seen = estimate_colour(image_bgr[y0:y1, x0:x1][inside])
            if seen is None or max(seen) < MIN_BRIGHTNESS:
                continue
            self.judged.add(name)
            if looks_unpainted(seen, actor.spec.colour_rgb):
                self.unpainted[name] = (
                    f"it shows RGB {seen}, its paint is {actor.spec.colour_name} "
                    f"{tuple(actor.spec.colour_rgb)}"
                )

    def report(self) -> None:
        if not self.unpainted:
            return
        shown = "; ".join(f"{n}: {why}" for n, why in sorted(self.unpainted.items())[:5])
        log.warning(
            "%d actors came out unpainted (%s%s). A `vbp` paint call needs the viewport console "
            "(none in Shipping builds) and does nothing on a bad argument: give the catalog's "
            "assets colour variants (`paint: variants`, see ue_project/README.md)",
            len(self.unpainted), shown, ", …" if len(self.unpainted) > 5 else "",
        )  # fmt: skip
