"""Instance masks → 2D boxes, visibility and truncation; the one box code of both backends.

- `boxes_from_mask`: tight visible boxes (absolute pixels, xyxy, exclusive right/bottom edges:
  pixel columns 10..19 give x1=10, x2=20) and visible pixel counts, from an int32 id mask.
- `decode_colour_mask`: an RGB colour-coded object mask as UnrealCV delivers it (colours off by
  a few levels from the set value) → the same int32 id mask; `instance_colour` picks colours
  far apart to set on UnrealCV objects.
- `amodal_box`: the projected 3D box of an actor (the full extent, even where hidden or
  outside the image), near-plane clipped; `search_rectangles`: the pixel rectangle each
  actor's pixels are looked for in (by the box code, and by the UnrealCV mask decoding).
- `annotate`: combines them into visibility (visible / unoccluded pixels) and truncation
  (share of the amodal box outside the image), and drops boxes under the minimum visibility;
  `frame_boxes` does all of it for one rendered frame, giving that frame's `VideoBoxes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from uecity.boxes import VideoBoxes
from uecity.camera import Camera
from uecity.render.actors import actors_box_corners
from uecity.render.protocol import RenderedFrame
from uecity.render.raster import NEAR
from uecity.traffic.simulation import ActorState, WorldState

BACKGROUND = -1

Rect = tuple[int, int, int, int]
"""An integer pixel rectangle x0, y0, x1, y1 (exclusive right/bottom), maybe beyond the image."""

# Edges of a box given by its 8 corners indexed ix * 4 + iy * 2 + iz.
_BOX_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]


@dataclass
class VisibleBoxes:
    """Parallel arrays: one tight visible box per instance id present in a mask."""

    ids: np.ndarray  # (K,) int64
    xyxy: np.ndarray  # (K, 4) float64, exclusive right/bottom edges
    pixels: np.ndarray  # (K,) int64 visible pixel count

    def __post_init__(self) -> None:
        k = len(self.ids)
        if self.xyxy.shape != (k, 4) or self.pixels.shape != (k,):
            raise ValueError("ids, xyxy and pixels must have matching lengths")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> VisibleBoxes:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64))


def boxes_from_mask(
    mask: np.ndarray, search_xyxy: Mapping[int, Rect] | None = None
) -> VisibleBoxes:
    """Tight boxes of every id >= 0 in `mask` (H, W).

    With `search_xyxy` (id → integer rectangle known to contain all of that id's pixels, e.g.
    its amodal box), only those ids are looked for and only inside their rectangles, which is
    much cheaper than a full pass; without it, one vectorised pass over the whole mask.
    """
    h, w = mask.shape
    if search_xyxy is not None:
        ids, boxes, counts = [], [], []
        for iid in sorted(search_xyxy):
            x0, y0, x1, y1 = search_xyxy[iid]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 <= x0 or y1 <= y0:
                continue
            sub = mask[y0:y1, x0:x1] == iid
            count = int(np.count_nonzero(sub))
            if not count:
                continue
            cols = np.flatnonzero(sub.any(axis=0))
            rows = np.flatnonzero(sub.any(axis=1))
            ids.append(iid)
            boxes.append((x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1))
            counts.append(count)
        if not ids:
            return VisibleBoxes.empty()
        return VisibleBoxes(
            np.array(ids, np.int64), np.array(boxes, np.float64), np.array(counts, np.int64)
        )
    flat = mask.ravel()
    fg = np.flatnonzero(flat >= 0)
    if fg.size == 0:
        return VisibleBoxes.empty()
    values = flat[fg].astype(np.int64)
    counts = np.bincount(values)
    present = np.flatnonzero(counts)
    xs, ys = fg % w, fg // w
    k = len(counts)
    x1 = np.full(k, w, np.int64)
    y1 = np.full(k, h, np.int64)
    x2 = np.zeros(k, np.int64)
    y2 = np.zeros(k, np.int64)
    np.minimum.at(x1, values, xs)
    np.minimum.at(y1, values, ys)
    np.maximum.at(x2, values, xs + 1)
    np.maximum.at(y2, values, ys + 1)
    xyxy = np.stack([x1, y1, x2, y2], axis=1)[present].astype(np.float64)
    return VisibleBoxes(present.astype(np.int64), xyxy, counts[present].astype(np.int64))


def instance_colour(instance_id: int) -> tuple[int, int, int]:
    """An RGB mask colour for an instance id, at least 16 levels from any other id's colour."""
    n = instance_id + 1  # (0, 0, 0) stays the background
    if not 0 < n < 16**3:
        raise ValueError(f"instance id {instance_id} out of range for colour coding")
    r, g, b = (n >> 8) & 15, (n >> 4) & 15, n & 15
    # Interleave the levels so that consecutive ids get clearly different colours.
    return (8 + 16 * ((b * 7) % 16), 8 + 16 * ((g * 5 + b) % 16), 8 + 16 * ((r * 3 + g) % 16))


_BIN_SHIFT = 3  # colour bins of 8 levels per channel: 32³ bins in the lookup table


def _colour_lookup(
    colours: Mapping[int, tuple[int, int, int]], tolerance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A bin → colour-index table, or None when two colours' tolerance cubes share a bin."""
    lut = np.full(1 << (3 * (8 - _BIN_SHIFT)), -1, np.int32)
    palette = np.zeros((len(colours), 3), np.int16)
    ids = np.zeros(len(colours), np.int32)
    for k, (iid, rgb) in enumerate(sorted(colours.items())):
        palette[k], ids[k] = rgb, iid
        lo = [max(c - tolerance, 0) >> _BIN_SHIFT for c in rgb]
        hi = [min(c + tolerance, 255) >> _BIN_SHIFT for c in rgb]
        r, g, b = np.meshgrid(*(np.arange(a, z + 1) for a, z in zip(lo, hi, strict=True)),
                              indexing="ij")  # fmt: skip
        bins = ((r << 10) | (g << 5) | b).ravel()
        if (lut[bins] >= 0).any():
            return None
        lut[bins] = k
    return lut, palette, ids


_LEVELS = 16
_OFF_LEVEL = _LEVELS  # a channel value too far from every level
# Channel value → its level k when within ±3 of 8 + 16k, else _OFF_LEVEL (one cv2.LUT pass).
_LEVEL_OF = np.array([c >> 4 if 5 <= (c & 15) <= 11 else _OFF_LEVEL for c in range(256)], np.uint8)


def _decode_lattice_colours(
    image: np.ndarray, colours: Mapping[int, tuple[int, int, int]]
) -> np.ndarray:
    """Decoding for colours on `instance_colour`'s lattice (every channel 8 + 16k), ±3.

    A channel value c is within ±3 of a level exactly when c & 15 lies in 8 ± 3, and the level is
    then c >> 4; a table maps each pixel's three levels to an id. A few whole-image passes,
    whatever the number of colours.
    """
    base = _LEVELS + 1
    lut = np.full(base**3, BACKGROUND, np.int32)
    for iid, (r, g, b) in colours.items():
        lut[((r >> 4) * base + (g >> 4)) * base + (b >> 4)] = iid
    levels = cv2.LUT(np.ascontiguousarray(image, np.uint8), _LEVEL_OF)  # (H, W, 3)
    code = levels[:, :, 0].astype(np.uint16)  # base**3 < 2**16
    code *= base
    code += levels[:, :, 1]
    code *= base
    code += levels[:, :, 2]
    return lut[code]


def decode_colour_mask(
    image_rgb: np.ndarray,
    colours: Mapping[int, tuple[int, int, int]],
    tolerance: int = 3,
    regions: Mapping[int, Rect] | None = None,
) -> np.ndarray:
    """An (H, W, 3) RGB colour-coded mask → (H, W) int32 ids; within ±tolerance per channel.

    Pixels matching no colour are BACKGROUND. (UnrealCV images decoded by OpenCV are BGR:
    reverse the channels first.) Without `regions`, one pass over the image whatever the number
    of colours: each pixel's colour bin is looked up in a table of the colours whose tolerance
    reaches that bin, then checked exactly; colours too close to share no bin fall back to one
    pass per colour. With `regions` (id → rectangle, as `search_rectangles` gives), each colour
    is looked for only inside its id's rectangle, and ids without one are not looked for:
    the pixels the box code would read, and no others.
    """
    if regions is not None:
        return _decode_colours_in_regions(image_rgb, colours, tolerance, regions)
    if tolerance <= 3 and all(c % 16 == 8 for rgb in colours.values() for c in rgb):
        return _decode_lattice_colours(image_rgb, colours)
    h, w = image_rgb.shape[:2]
    out = np.full((h, w), BACKGROUND, np.int32)
    if not colours:
        return out
    table = _colour_lookup(colours, tolerance)
    if table is None:
        for iid, rgb in sorted(colours.items()):
            lo = np.array([max(c - tolerance, 0) for c in rgb], np.uint8)
            hi = np.array([min(c + tolerance, 255) for c in rgb], np.uint8)
            out[cv2.inRange(image_rgb, lo, hi) > 0] = iid
        return out
    lut, palette, ids = table
    image_rgb = np.ascontiguousarray(image_rgb, np.uint8)
    pixels = image_rgb.reshape(-1, 3)  # (H*W, 3)
    if lut[0] < 0:  # most of a mask is background: skip the first bin's pixels at C speed
        dark = cv2.inRange(image_rgb, (0, 0, 0), ((1 << _BIN_SHIFT) - 1,) * 3).reshape(-1)
        where = np.flatnonzero(dark == 0)
    else:
        where = np.arange(len(pixels))
    binned = pixels[where] >> _BIN_SHIFT  # (N, 3)
    bins = (binned[:, 0].astype(np.int32) << 10) | (binned[:, 1].astype(np.int32) << 5)
    bins |= binned[:, 2]
    candidate = lut[bins]  # (N,) colour index or -1
    hit = candidate >= 0
    where, index = where[hit], candidate[hit]
    close = (np.abs(pixels[where].astype(np.int16) - palette[index]) <= tolerance).all(axis=1)
    out.reshape(-1)[where[close]] = ids[index[close]]
    return out


def _decode_colours_in_regions(
    image_rgb: np.ndarray,
    colours: Mapping[int, tuple[int, int, int]],
    tolerance: int,
    regions: Mapping[int, Rect],
) -> np.ndarray:
    """`decode_colour_mask` with each colour looked for inside its own rectangle only."""
    h, w = image_rgb.shape[:2]
    out = np.full((h, w), BACKGROUND, np.int32)
    for iid in sorted(regions.keys() & colours.keys()):
        x0, y0, x1, y1 = regions[iid]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        rgb = colours[iid]
        lo = tuple(max(c - tolerance, 0) for c in rgb)
        hi = tuple(min(c + tolerance, 255) for c in rgb)
        hit = cv2.inRange(image_rgb[y0:y1, x0:x1], lo, hi)
        np.copyto(out[y0:y1, x0:x1], iid, where=hit > 0)
    return out


SEARCH_MARGIN_PX = 3
"""How far beyond an actor's amodal box its pixels are looked for. Rasterisation puts a mesh's
edge pixels up to a pixel beyond its projected box; pixels in the outermost ring of the margin
tell a mesh bigger than its 3D box (its box is then cut there)."""


def search_rectangles(
    camera: Camera, actors: Sequence[ActorState], instance_ids: Mapping[str, int]
) -> tuple[dict[int, np.ndarray], dict[int, Rect]]:
    """Each actor's amodal box, and the rectangle its pixels are looked for in, by instance id.

    The rectangle is the amodal box grown to whole pixels and by `SEARCH_MARGIN_PX`: a mesh
    inside its 3D box cannot show a pixel beyond it. Actors wholly behind the camera get
    neither.
    """
    boxes = amodal_boxes(camera, actors_box_corners(list(actors)))
    amodal: dict[int, np.ndarray] = {}
    search: dict[int, Rect] = {}
    m = SEARCH_MARGIN_PX
    for actor, box in zip(actors, boxes, strict=True):
        if np.isnan(box[0]):
            continue
        iid = instance_ids[actor.sumo_id]
        amodal[iid] = box
        x0, y0, x1, y1 = box.tolist()
        search[iid] = (math.floor(x0) - m, math.floor(y0) - m, math.ceil(x1) + m, math.ceil(y1) + m)
    return amodal, search


def amodal_box(camera: Camera, corners_world: np.ndarray) -> np.ndarray | None:
    """xyxy of the projected 3D box (unclipped to the image), or None if wholly behind."""
    cam = camera.world_to_camera(corners_world)
    z = cam[:, 2]
    if (z < NEAR).all():
        return None
    if (z >= NEAR).all():
        pts = cam
    else:
        kept = [cam[z >= NEAR]]
        for a, b in _BOX_EDGES:
            if (z[a] >= NEAR) != (z[b] >= NEAR):
                t = (NEAR - z[a]) / (z[b] - z[a])
                kept.append((cam[a] + t * (cam[b] - cam[a]))[None])
        pts = np.vstack(kept)
    uv = camera.camera_to_pixel(pts)
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def amodal_boxes(camera: Camera, corners_world: np.ndarray) -> np.ndarray:
    """(N, 4) amodal xyxy of N 3D boxes (N, 8, 3) at once; NaN rows for boxes wholly behind."""
    out = np.full((len(corners_world), 4), np.nan)
    if len(corners_world) == 0:
        return out
    cam = camera.world_to_camera(corners_world)  # (N, 8, 3)
    in_front = (cam[..., 2] >= NEAR).all(axis=1)
    c = cam[in_front]
    u = camera.fx * c[..., 0] / c[..., 2] + camera.cx
    v = camera.fy * c[..., 1] / c[..., 2] + camera.cy
    out[in_front] = np.stack([u.min(1), v.min(1), u.max(1), v.max(1)], axis=1)
    for k in np.flatnonzero(~in_front):  # straddling the near plane: clip edge by edge
        box = amodal_box(camera, corners_world[k])
        if box is not None:
            out[k] = box
    return out


def truncation(xyxy_amodal: np.ndarray, width: int, height: int) -> float:
    """Share of the amodal box's area outside the image (0: fully inside, 1: fully outside)."""
    x1, y1, x2, y2 = xyxy_amodal
    area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    if area <= 0:
        return 1.0
    ix = max(min(x2, width) - max(x1, 0.0), 0.0)
    iy = max(min(y2, height) - max(y1, 0.0), 0.0)
    return float(np.clip(1.0 - ix * iy / area, 0.0, 1.0))


def silhouette_pixels(camera: Camera, corners_world: np.ndarray) -> int:
    """Pixels inside the image covered by the convex hull of a projected 3D box.

    The visibility denominator for backends that cannot render an actor alone (UnrealCV): an
    upper bound of the true silhouette, so visibility is slightly underestimated there.
    """
    cam = camera.world_to_camera(corners_world)
    if (cam[:, 2] < NEAR).any():
        box = amodal_box(camera, corners_world)
        if box is None:
            return 0
        x1, y1, x2, y2 = box
        ix = max(min(x2, camera.width) - max(x1, 0), 0)
        iy = max(min(y2, camera.height) - max(y1, 0), 0)
        return int(ix * iy)
    uv = camera.camera_to_pixel(cam)
    hull = cv2.convexHull(uv.astype(np.float32))[:, 0]
    x0, y0 = np.floor(hull.min(0)).astype(int)
    x1, y1 = np.ceil(hull.max(0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, camera.width), min(y1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return 0
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((hull - (x0 + 0.5, y0 + 0.5)) * 16).astype(np.int32)
    cv2.fillConvexPoly(canvas, pts, 1, cv2.LINE_8, 4)
    return int(np.count_nonzero(canvas))


def annotate(
    visible: VisibleBoxes,
    amodal: Mapping[int, np.ndarray],
    unoccluded_pixels: Mapping[int, int],
    width: int,
    height: int,
    min_visibility: float,
    min_pixels: int,
    frame: int = 0,
) -> VideoBoxes:
    """The boxes of frame `frame` worth annotating, with visibility, truncation and the amodal
    box, sorted by instance id (the record's `track_id` holds the instance ids)."""
    ids, boxes, amodal_boxes_xyxy, visibilities, truncations = [], [], [], [], []
    for iid, xyxy, pixels in zip(
        visible.ids.tolist(), visible.xyxy.tolist(), visible.pixels.tolist(), strict=True
    ):
        full = unoccluded_pixels.get(iid, 0)
        box = amodal.get(iid)
        if box is None or full <= 0:
            continue
        visibility = min(pixels / full, 1.0)
        if visibility < min_visibility or pixels < min_pixels:
            continue
        ids.append(iid)
        boxes.append(xyxy)
        amodal_boxes_xyxy.append([float(v) for v in box])
        visibilities.append(round(visibility, 4))
        truncations.append(round(truncation(box, width, height), 4))
    return VideoBoxes(
        frame=np.full(len(ids), frame, np.int64),
        track_id=np.array(ids, np.int64),
        xyxy=np.array(boxes, np.float64).reshape(-1, 4),
        visibility=np.array(visibilities, np.float64),
        truncation=np.array(truncations, np.float64),
        amodal_xyxy=np.array(amodal_boxes_xyxy, np.float64).reshape(-1, 4),
    )


def frame_boxes(
    camera: Camera,
    rendered: RenderedFrame,
    world: WorldState,
    instance_ids: Mapping[str, int],
    min_visibility: float,
    min_pixels: int,
) -> tuple[VideoBoxes, list[int]]:
    """The annotated boxes of one rendered frame (instance ids as track ids), and the ids
    whose pixels reach the edge of the rectangle searched for them (the mesh is bigger than its
    3D box: the box is cut there).

    A backend that tells each actor's unoccluded pixels (`sim`) gives visibility its exact
    denominator; for one that cannot (`unrealcv`), the projected 3D box's silhouette stands in.
    """
    ids = instance_ids
    if rendered.unoccluded_pixels is None:  # any actor may show: the box search tells
        actors = [a for a in world.actors if a.sumo_id in ids]
    else:
        actors = [a for a in world.actors if ids[a.sumo_id] in rendered.unoccluded_pixels]
    amodal, search = search_rectangles(camera, actors, ids)
    visible = boxes_from_mask(rendered.instance_mask, search)
    unoccluded = rendered.unoccluded_pixels
    if unoccluded is None:
        shown = set(visible.ids.tolist())
        seen = [a for a in actors if ids[a.sumo_id] in shown]
        unoccluded = {
            ids[a.sumo_id]: silhouette_pixels(camera, c)
            for a, c in zip(seen, actors_box_corners(seen), strict=True)
        }
    boxes = annotate(
        visible,
        amodal,
        unoccluded,
        camera.width,
        camera.height,
        min_visibility,
        min_pixels,
        world.frame,
    )
    return boxes, _reaching_the_edge(visible, search, camera.width, camera.height)


def _reaching_the_edge(
    visible: VisibleBoxes, search: Mapping[int, Rect], width: int, height: int
) -> list[int]:
    """Ids whose visible box touches a side of its search rectangle inside the image."""
    out = []
    for iid, (x1, y1, x2, y2) in zip(visible.ids.tolist(), visible.xyxy.tolist(), strict=True):
        rx0, ry0, rx1, ry1 = search[iid]
        if (0 < rx0 == x1) or (0 < ry0 == y1) or (x2 == rx1 < width) or (y2 == ry1 < height):
            out.append(iid)
    return out
