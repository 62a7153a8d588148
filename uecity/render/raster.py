"""Rasterising world polygons through a camera: near-plane clipping, fills and a z-buffer.

Planar polygons are clipped in the camera frame against the near plane, projected and filled
with OpenCV at 1/16-pixel precision. Faces drawn into a z-buffer carry exact per-pixel depth:
for a plane, 1/z is affine in the pixel coordinates, so one broadcast expression per face gives
the depth test (the store holds 1/z, 0 for nothing drawn).
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


class ZBuffer:
    """Image, instance mask and inverse depth of one frame, drawn into face by face."""

    def __init__(self, camera: Camera, background: np.ndarray) -> None:
        self.camera = camera
        self.image = background.copy()
        self.ids = np.full((camera.height, camera.width), -1, dtype=np.int32)
        self.inv_depth = np.zeros((camera.height, camera.width), dtype=np.float32)

    def inverse_depth_plane(self, face_cam: np.ndarray) -> tuple[float, float, float] | None:
        """(A, B, C) with 1/z = A·u + B·v + C on the face's plane, or None if edge-on."""
        c = self.camera
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = face_cam[:3].tolist()
        ux, uy, uz = x1 - x0, y1 - y0, z1 - z0
        vx, vy, vz = x2 - x0, y2 - y0, z2 - z0
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        d = nx * x0 + ny * y0 + nz * z0
        if abs(d) < 1e-9:
            return None
        return (
            nx / (c.fx * d),
            ny / (c.fy * d),
            (nz - nx * c.cx / c.fx - ny * c.cy / c.fy) / d,
        )


def draw_actor(
    zbuf: ZBuffer,
    faces_cam: list[np.ndarray],
    colours: list[tuple[int, int, int]],
    instance_id: int,
) -> int:
    """Draw one actor's visible faces with a depth test; returns its unoccluded pixel count.

    Faces are first composed in a local buffer over the actor's screen rectangle (so the
    actor's own silhouette is known), then merged into the frame where they are nearer.
    """
    cam = zbuf.camera
    fx, fy, cx, cy = cam.fx, cam.fy, cam.cx, cam.cy
    lim = 8.0 * max(cam.width, cam.height)
    projected = []
    for f in faces_cam:
        f = clip_near(f)
        if len(f) >= 3:
            uv = np.empty((len(f), 2))
            uv[:, 0] = fx * f[:, 0] / f[:, 2] + cx
            uv[:, 1] = fy * f[:, 1] / f[:, 2] + cy
            projected.append((np.clip(uv, -lim, lim), f))
    if not projected:
        return 0
    all_uv = np.vstack([uv for uv, _ in projected])
    lo = np.floor(all_uv.min(axis=0)).astype(int)
    hi = np.ceil(all_uv.max(axis=0)).astype(int) + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), cam.width), min(int(hi[1]), cam.height)
    if x1 <= x0 or y1 <= y0:
        return 0
    h, w = y1 - y0, x1 - x0
    local_inv = np.zeros((h, w), np.float32)
    local_img = np.zeros((h, w, 3), np.uint8)
    face_mask = np.zeros((h, w), np.uint8)
    us = np.arange(x0, x1, dtype=np.float32) + 0.5
    vs = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    for (uv, f), colour in zip(projected, colours, strict=False):
        plane = zbuf.inverse_depth_plane(f)
        if plane is None:
            continue
        # Work on the face's own rectangle inside the actor's.
        fx0 = max(int(uv[:, 0].min()) - x0, 0)
        fy0 = max(int(uv[:, 1].min()) - y0, 0)
        fx1 = min(int(uv[:, 0].max()) + 2 - x0, w)
        fy1 = min(int(uv[:, 1].max()) + 2 - y0, h)
        if fx1 <= fx0 or fy1 <= fy0:
            continue
        sub_mask = face_mask[fy0:fy1, fx0:fx1]
        sub_mask[:] = 0
        cv2.fillConvexPoly(sub_mask, to_fixed(uv - (x0 + fx0, y0 + fy0)), 1, cv2.LINE_8, _SHIFT)
        a, b, c = plane
        inv = (a * us[fx0:fx1] + c) + b * vs[fy0:fy1]  # (fh, fw) inverse depth on the plane
        sub_inv = local_inv[fy0:fy1, fx0:fx1]
        sel = sub_mask.view(bool) & (inv > sub_inv)
        np.copyto(sub_inv, inv, where=sel)
        np.copyto(local_img[fy0:fy1, fx0:fx1], np.array(colour, np.uint8), where=sel[..., None])
    region_inv = zbuf.inv_depth[y0:y1, x0:x1]
    win = local_inv > region_inv  # nothing drawn locally is 0, never nearer
    np.copyto(region_inv, local_inv, where=win)
    np.copyto(zbuf.image[y0:y1, x0:x1], local_img, where=win[..., None])
    np.copyto(zbuf.ids[y0:y1, x0:x1], np.int32(instance_id), where=win)
    return int(np.count_nonzero(local_inv))
