"""The embedded `sim` backend: a perspective renderer in numpy/OpenCV, no engine needed.

Per video: the lighting (sun direction, ambient level, white balance, exposure) is drawn from the
video's rng, and the static background (sky, ground, road surfaces, sidewalks, parking lanes,
crossings and lane markings from SUMO's geometry, with a little texture) is drawn once, since
the camera does not move; the sun's elevation goes into video.json (`scene_facts`). Per
frame: the background is copied, ground shadows are darkened in, and the actors in view are
drawn face by face in exact visibility order (see `uecity.render.ordering`) into the image and
the instance mask at once, so one pass gives both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from uecity.camera import Camera
from uecity.core.errors import SpecError
from uecity.render import raster
from uecity.render.actors import frame_faces
from uecity.render.ordering import draw_order
from uecity.render.protocol import (
    FinishedFrame,
    ObservedEngine,
    RenderedFrame,
    Renderer,
    SceneFact,
)
from uecity.scene.spec import SceneSpec
from uecity.traffic.demand import ActorSpec
from uecity.traffic.network import Network
from uecity.traffic.simulation import ActorState, WorldState

FAR_PIXELS = 14.0  # actors shorter than this on screen are drawn as one box
#: Ground surface colours (RGB) before lighting.
SURFACE_RGB = {
    "ground": (104, 112, 92),
    "far_ground": (104, 112, 92),
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
        self._shadowed = (self.background >> 1) + (self.background >> 3)  # the ground in shade
        self._rot = camera.rotation()

    def _visible_actors(self, actors: list[ActorState]) -> tuple[list[ActorState], np.ndarray]:
        """Actors whose bounding sphere meets the view frustum, and whether each is far."""
        c = self.camera
        sizes = np.array([a.spec.size_m for a in actors], float)
        centres = np.array([(a.x, a.y, a.z) for a in actors], float)
        centres[:, 2] += sizes[:, 2] / 2
        radius = 0.5 * np.linalg.norm(sizes, axis=1)
        p = c.world_to_camera(centres)
        z = np.maximum(p[:, 2], 1e-3)
        margin = 1.5 * radius / z
        inside = (
            (p[:, 2] > -radius)
            & (np.abs(p[:, 0] / z) <= c.width / 2 / c.fx + margin)
            & (np.abs(p[:, 1] / z) <= c.height / 2 / c.fy + margin)
        ) | ((p[:, 2] < radius) & (p[:, 2] > -radius))
        # Level of detail: actors under FAR_PIXELS tall are drawn as one box.
        far = c.fy * sizes[:, 2] / z < FAR_PIXELS
        keep = np.flatnonzero(inside)
        return [actors[k] for k in keep], far[keep]

    def _draw_shadows(self, image: np.ndarray, actors: list[ActorState]) -> None:
        """Darken the ground under and beside each actor, away from the sun."""
        sun = self.lighting.sun
        offset = -sun[:2] / max(sun[2], 0.3) * 0.5
        polys = []
        for a in actors:
            length, width, height = a.spec.size_m
            c, s = math.cos(a.heading), math.sin(a.heading)
            fx, fy = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
            centre = np.array([a.x, a.y])
            foot = np.array(
                [centre + fx + fy, centre - fx + fy, centre - fx - fy, centre + fx - fy]
            )
            ground = np.vstack([foot, foot + offset * height])
            polys.append(np.column_stack([ground, np.full(8, a.z + 0.01)]))
        if not polys:
            return
        cam = self.camera.world_to_camera(np.stack(polys))  # (N, 8, 3)
        usable = (cam[:, :, 2] > raster.NEAR).all(axis=1)
        if not usable.any():
            return
        cam = cam[usable]
        uv = np.stack(
            [
                self.camera.fx * cam[..., 0] / cam[..., 2] + self.camera.cx,
                self.camera.fy * cam[..., 1] / cam[..., 2] + self.camera.cy,
            ],
            -1,
        )
        hulls = [raster.to_fixed(cv2.convexHull(q.astype(np.float32))[:, 0]) for q in uv]
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, hulls, 1, cv2.LINE_8, raster._SHIFT)
        cv2.copyTo(self._shadowed, mask, image)  # in place: same size and type

    def start(self, world: WorldState, instance_ids: Mapping[str, int]) -> FinishedFrame:
        return FinishedFrame(self.render(world, instance_ids))

    def render(self, world: WorldState, instance_ids: Mapping[str, int]) -> RenderedFrame:
        canvas = raster.FrameCanvas(self.camera, self.background)
        candidates = [a for a in world.actors if a.sumo_id in instance_ids]
        unoccluded: dict[int, int] = {}
        if not candidates:
            return RenderedFrame(canvas.image, canvas.ids, unoccluded)
        actors, far = self._visible_actors(candidates)
        if not actors:
            return RenderedFrame(canvas.image, canvas.ids, unoccluded)
        self._draw_shadows(canvas.image, actors)
        light = self.lighting
        faces = frame_faces(actors, far.tolist(), light.sun, light.ambient, light.tint)
        cam = self.camera
        quads = cam.world_to_camera(faces.quads)  # (B, 5, 4, 3) camera frame
        normals = faces.normals @ self._rot.T  # (B, 5, 3)
        # With the camera at the origin, a face is seen when its normal points back at it.
        facing = np.einsum("bfk,bfk->bf", normals, quads[:, :, 0, :]) < -1e-9
        z = quads[..., 2]
        in_front = (z >= raster.NEAR).all(axis=-1)
        safe_z = np.where(z >= raster.NEAR, z, 1.0)
        uv = np.stack(
            [cam.fx * quads[..., 0] / safe_z + cam.cx, cam.fy * quads[..., 1] / safe_z + cam.cy], -1
        )
        lim = 8.0 * max(cam.width, cam.height)
        fixed = raster.to_fixed(np.clip(uv, -lim, lim))  # (B, 5, 4, 2) OpenCV vertices
        colours = faces.colours_rgb[..., ::-1].astype(np.uint8)  # BGR
        part_distance = np.linalg.norm(quads.mean(axis=(1, 2)), axis=1)  # (B,)
        owners = faces.owner
        boxes_of = np.split(np.arange(len(owners)), np.flatnonzero(np.diff(owners)) + 1)
        per_actor = []
        for boxes in boxes_of:
            # Parts far to near: the painter's order inside one actor.
            face_uv, face_colours = [], []
            for b in boxes[np.argsort(-part_distance[boxes], kind="stable")]:
                for f in np.flatnonzero(facing[b]):
                    if in_front[b, f]:
                        face_uv.append(fixed[b, f])
                    else:
                        clipped = raster.clip_near(quads[b, f])
                        if len(clipped) < 3:
                            continue
                        clipped_uv = np.clip(cam.camera_to_pixel(clipped), -lim, lim)
                        face_uv.append(raster.to_fixed(clipped_uv))
                    face_colours.append(tuple(colours[b, f].tolist()))
            per_actor.append((face_uv, face_colours))
        rects = np.array(
            [raster.screen_rect(fu, cam) if fu else (0, 0, 0, 0) for fu, _ in per_actor]
        )
        order = draw_order(actors, raster.overlapping_pairs(rects), cam.position)
        for k in order:
            face_uv, face_colours = per_actor[k]
            iid = instance_ids[actors[k].sumo_id]
            count = raster.paint_actor(canvas, face_uv, face_colours, iid, tuple(rects[k]))
            if count:
                unoccluded[iid] = count
        return RenderedFrame(canvas.image, canvas.ids, unoccluded)

    def asset_name(self, spec: ActorSpec) -> str:
        return f"sim/{spec.category}/{spec.type}"

    def scene_facts(self) -> dict[str, SceneFact]:
        """The sun's elevation this video was lit with."""
        elevation = math.degrees(math.asin(float(self.lighting.sun[2])))
        return {"sun_elevation_deg": round(elevation, 3)}

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class SimBackend:
    """The `sim` backend as a run sees it: nothing to check beforehand, no engine of its own."""

    def check_run(self, spec: SceneSpec, workers: int) -> None:
        """Any spec the schema accepts renders here, on any number of workers."""

    def renderer(self, camera: Camera, network: Network, rng: np.random.Generator) -> SimRenderer:
        return SimRenderer(camera, network, rng)

    def observe(self, renderer: Renderer, fps: float) -> ObservedEngine:
        raise SpecError(
            "observe mode records an engine's own traffic: use backend unrealcv",
            field="run.mode",
        )
