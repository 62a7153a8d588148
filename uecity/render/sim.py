"""The embedded `sim` backend: a perspective renderer in numpy/OpenCV, no engine needed.

Per video: the lighting (sun direction, ambient level, white balance, exposure) is drawn from the
video's rng, and the static background (sky, ground, road surfaces, sidewalks, parking lanes,
crossings and lane markings from SUMO's geometry, with a little texture) is drawn once, since
the camera does not move. Per frame: the background is copied, ground shadows are darkened in,
and the actors in view are drawn face by face into a z-buffer that also writes the instance
mask, so one pass gives both the image and the mask.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from uecity.camera import Camera
from uecity.render import raster
from uecity.render.actors import actor_parts, bounding_box_corners, visible_faces
from uecity.render.protocol import RenderedFrame
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState

#: Ground surface colours (RGB) before lighting.
SURFACE_RGB = {
    "ground": (104, 112, 92),
    "far_ground": (120, 124, 110),
    "road": (72, 72, 76),
    "sidewalk": (160, 156, 148),
    "parking": (88, 88, 92),
    "crossing": (228, 228, 226),
    "marking": (222, 222, 218),
}


@dataclass(frozen=True)
class Lighting:
    """The light of one video: sun direction (unit, towards the sun), ambient share, colour."""

    sun: np.ndarray
    ambient: float
    tint: np.ndarray  # per-channel RGB gain (white balance × exposure)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Lighting:
        azimuth = rng.uniform(0, 2 * math.pi)
        elevation = rng.uniform(math.radians(25), math.radians(70))
        sun = np.array(
            [
                math.cos(elevation) * math.cos(azimuth),
                math.cos(elevation) * math.sin(azimuth),
                math.sin(elevation),
            ]
        )
        exposure = rng.uniform(0.85, 1.12)
        balance = rng.uniform(0.93, 1.07, size=3)
        return cls(sun, float(rng.uniform(0.45, 0.6)), exposure * balance)


def _rgb_to_bgr(rgb, gain: np.ndarray) -> tuple[int, int, int]:
    r, g, b = np.clip(np.array(rgb, np.float64) * gain, 0, 255).astype(int).tolist()
    return (b, g, r)


def render_background(
    camera: Camera, network: Network, lighting: Lighting, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Sky, ground and the network's surfaces seen by `camera` (BGR uint8)."""
    h, w = camera.height, camera.width
    ground_gain = lighting.tint * (lighting.ambient + (1 - lighting.ambient) * lighting.sun[2])
    top = np.array(_rgb_to_bgr((120, 160, 215), lighting.tint), np.float32)
    bottom = np.array(_rgb_to_bgr((200, 215, 230), lighting.tint), np.float32)
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.uint8)
    image = np.ascontiguousarray(image)

    def fill(poly2d: np.ndarray, rgb) -> None:
        poly = np.column_stack([poly2d, np.zeros(len(poly2d))])
        raster.fill_world_polygon(image, camera, poly, _rgb_to_bgr(rgb, ground_gain))

    far = 3000.0
    fill(np.array([[-far, -far], [far, -far], [far, far], [-far, far]]), SURFACE_RGB["far_ground"])
    e = network.extent
    fill(np.array([[-e, -e], [e, -e], [e, e], [-e, e]]), SURFACE_RGB["ground"])
    for kind, poly in network.surfaces:
        fill(poly, SURFACE_RGB[kind])
    if rng is not None:
        noise = rng.normal(0.0, 5.0, size=(h, w, 1)).astype(np.float32)
        image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        image = cv2.GaussianBlur(image, (3, 3), 0)
    return image


def road_coverage(camera: Camera, network: Network) -> float:
    """Share of the image showing road or sidewalk (a cheap low-resolution check)."""
    small = camera.scaled(min(1.0, 160.0 / camera.width))
    mask = np.zeros((small.height, small.width), np.uint8)
    for kind, poly in network.surfaces:
        if kind in ("road", "sidewalk", "parking", "crossing"):
            poly3 = np.column_stack([poly, np.zeros(len(poly))])
            raster.fill_world_polygon(mask, small, poly3, 1)
    return float(mask.mean())


class SimRenderer:
    """The `sim` backend for one video: a static camera over one network."""

    def __init__(self, camera: Camera, network: Network, rng: np.random.Generator) -> None:
        self.camera = camera
        self.network = network
        self.lighting = Lighting.draw(rng)
        self.background = render_background(camera, network, self.lighting, rng)
        self._cam_pos = camera.position
        self._rot = camera.rotation()
        # The view frustum's corner rays, for culling actors outside the image.
        corners = np.array([[0, 0], [camera.width, 0], [camera.width, camera.height],
                            [0, camera.height]], np.float64)  # fmt: skip
        self._frustum_rays = camera.pixel_ray(corners)

    def _in_view(self, actor: ActorState) -> bool:
        """Cheap conservative test on the actor's bounding sphere against the camera frustum."""
        c = self.camera
        length, width, height = actor.spec.size_m
        radius = 0.5 * math.sqrt(length * length + width * width + height * height)
        centre = np.array([actor.x, actor.y, actor.z + height / 2])
        p = self._rot @ (centre - self._cam_pos)
        if p[2] < -radius:
            return False
        # Half-angles of the frustum with the sphere's angular radius as margin.
        z = max(p[2], 1e-3)
        margin = radius / z
        return (
            abs(p[0] / z) <= c.width / 2 / c.fx + margin * 1.5
            and abs(p[1] / z) <= c.height / 2 / c.fy + margin * 1.5
        ) or p[2] < radius

    def _draw_shadow(self, image: np.ndarray, actor: ActorState) -> None:
        """Darken the ground under and beside the actor, away from the sun."""
        sun = self.lighting.sun
        length, width, height = actor.spec.size_m
        c, s = math.cos(actor.heading), math.sin(actor.heading)
        fx, fy = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
        centre = np.array([actor.x, actor.y])
        foot = np.array([centre + fx + fy, centre - fx + fy, centre - fx - fy, centre + fx - fy])
        offset = -sun[:2] / max(sun[2], 0.3) * height * 0.5
        hull = cv2.convexHull(np.vstack([foot, foot + offset]).astype(np.float32))[:, 0]
        poly = np.column_stack([hull, np.full(len(hull), actor.z + 0.01)])
        cam = raster.clip_near(self.camera.world_to_camera(poly))
        if len(cam) < 3:
            return
        uv = self.camera.camera_to_pixel(cam)
        x0, y0 = np.floor(uv.min(0)).astype(int)
        x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.camera.width), min(y1, self.camera.height)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, raster.to_fixed(uv - (x0, y0)), 1, cv2.LINE_8, raster._SHIFT)
        region = image[y0:y1, x0:x1]
        np.copyto(region, (region >> 1) + (region >> 3), where=mask.view(bool)[..., None])

    def render(self, world: WorldState, instance_ids: Mapping[str, int]) -> RenderedFrame:
        zbuf = raster.ZBuffer(self.camera, self.background)
        actors = [a for a in world.actors if a.sumo_id in instance_ids and self._in_view(a)]
        for actor in actors:
            self._draw_shadow(zbuf.image, actor)
        unoccluded: dict[int, int] = {}
        light = self.lighting
        for actor in actors:
            faces, colours = visible_faces(
                actor, actor_parts(actor), self._cam_pos, light.sun, light.ambient, light.tint
            )
            faces_cam = list((np.array(faces) - self._cam_pos) @ self._rot.T) if faces else []
            iid = instance_ids[actor.sumo_id]
            count = raster.draw_actor(zbuf, faces_cam, colours, iid)
            if count:
                unoccluded[iid] = count
        return RenderedFrame(zbuf.image, zbuf.ids, unoccluded)

    def amodal_corners(self, actor: ActorState) -> np.ndarray:
        return bounding_box_corners(actor)

    def close(self) -> None:
        """Nothing to release."""
