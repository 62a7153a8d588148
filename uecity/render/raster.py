"""Rasterising world polygons through a camera: near-plane clipping and OpenCV fills.

Planar polygons are clipped in the camera frame against the near plane, projected and filled
with OpenCV at 1/16-pixel precision, into the image and the instance mask at once. Occlusion
between actors comes from drawing them in visibility order (`uecity.render.ordering`).
"""

from __future__ import annotations

import cv2
import numpy as np

from uecity.camera import Camera

NEAR = 0.1  # m
_SHIFT = 4
_SCALE = 1 << _SHIFT


def clip_near(points_cam: np.ndarray, near: float = NEAR) -> np.ndarray:
    """Sutherland–Hodgman clip of one polygon (N, 3) in the camera frame to z >= near."""
    z = points_cam[:, 2]
    if (z >= near).all():
        return points_cam
    if (z < near).all():
        return points_cam[:0]
    out = []
    n = len(points_cam)
    for i in range(n):
        a, b = points_cam[i], points_cam[(i + 1) % n]
        a_in, b_in = a[2] >= near, b[2] >= near
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (near - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if out else points_cam[:0]


def to_fixed(uv: np.ndarray) -> np.ndarray:
    """Pixel coordinates → OpenCV fixed-point vertices (pixel centres at integer + 0.5)."""
    return np.round((uv - 0.5) * _SCALE).astype(np.int32)


def fill_world_polygon(
    image: np.ndarray, camera: Camera, polygon_world: np.ndarray, colour
) -> None:
    """Fill a (possibly concave) planar world polygon (N, 3) into `image` (no depth test)."""
    cam = clip_near(camera.world_to_camera(polygon_world))
    if len(cam) < 3:
        return
    uv = camera.camera_to_pixel(cam)
    # Far-away vertices can overflow OpenCV's fixed point: clamp to a generous margin.
    lim = 8.0 * max(camera.width, camera.height)
    uv = np.clip(uv, -lim, lim)
    cv2.fillPoly(image, [to_fixed(uv)], colour, lineType=cv2.LINE_8, shift=_SHIFT)


class FrameCanvas:
    """Image and instance mask of one frame, started from the static background."""

    def __init__(self, camera: Camera, background: np.ndarray) -> None:
        self.camera = camera
        self.image = background.copy()
        self.ids = np.full((camera.height, camera.width), -1, dtype=np.int32)


def screen_rect(faces_fixed: list[np.ndarray], camera: Camera) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of the pixels faces (in `to_fixed` vertices) may cover."""
    all_pts = np.vstack(faces_fixed)
    lo = all_pts.min(axis=0) // _SCALE
    hi = all_pts.max(axis=0) // _SCALE + 2
    return (
        max(int(lo[0]), 0),
        max(int(lo[1]), 0),
        min(int(hi[0]), camera.width),
        min(int(hi[1]), camera.height),
    )


def overlapping_pairs(rects: np.ndarray) -> list[tuple[int, int]]:
    """(i, j), i < j, of the non-empty rectangles (N, 4) that meet."""
    if len(rects) == 0:
        return []
    x0, y0, x1, y1 = (rects[:, i] for i in range(4))
    empty = (x1 <= x0) | (y1 <= y0)
    meet = (
        (x0[:, None] < x1[None, :])
        & (x0[None, :] < x1[:, None])
        & (y0[:, None] < y1[None, :])
        & (y0[None, :] < y1[:, None])
    )
    meet &= ~empty[:, None] & ~empty[None, :]
    i, j = np.nonzero(np.triu(meet, k=1))
    return list(zip(i.tolist(), j.tolist(), strict=True))


def paint_actor(
    canvas: FrameCanvas,
    faces_fixed: list[np.ndarray],
    colours: list[tuple[int, int, int]],
    instance_id: int,
    rect: tuple[int, int, int, int],
) -> int:
    """Draw an actor's faces (`to_fixed` vertices) in the given far-to-near order, over what is
    drawn already.

    Actors must come in visibility order (`uecity.render.ordering`). Returns the actor's pixel
    count at this moment, i.e. unoccluded by the nearer actors that come after it.
    """
    x0, y0, x1, y1 = (int(v) for v in rect)
    if x1 <= x0 or y1 <= y0:
        return 0
    for pts, colour in zip(faces_fixed, colours, strict=True):
        cv2.fillConvexPoly(canvas.image, pts, colour, cv2.LINE_8, _SHIFT)
        cv2.fillConvexPoly(canvas.ids, pts, instance_id, cv2.LINE_8, _SHIFT)
    return int(np.count_nonzero(canvas.ids[y0:y1, x0:x1] == instance_id))
