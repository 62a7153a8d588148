"""Actor shapes: each vehicle type and pedestrians as a few coloured boxes with the type's
proportions (a bus is long and tall with a window band, a truck a cab plus a cargo box, a van a
tall box with a short bonnet), and the shading of their faces by the video's light.

Boxes are given in the actor's local frame: x forward, y left, z up, origin at the centre of the
footprint on the ground; all sizes scale with the actor's own length, width and height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uecity.traffic.simulation import ActorState

GLASS = (40, 48, 58)
TYRE = (25, 25, 25)
LIGHT_GREY = (200, 200, 196)

# Corner index = ix * 4 + iy * 2 + iz of (x0|x1, y0|y1, z0|z1); faces listed with outward
# normals in the local frame. Bottoms are never seen from a surveillance camera.
FACES = (
    ("top", (1, 5, 7, 3), (0.0, 0.0, 1.0)),
    ("front", (4, 6, 7, 5), (1.0, 0.0, 0.0)),
    ("back", (0, 1, 3, 2), (-1.0, 0.0, 0.0)),
    ("side", (2, 3, 7, 6), (0.0, 1.0, 0.0)),
    ("side", (0, 4, 5, 1), (0.0, -1.0, 0.0)),
)
_FACE_IDX = np.array([f[1] for f in FACES])
_FACE_NORMALS = np.array([f[2] for f in FACES])
_CORNER_SIGNS = np.array([[ix, iy, iz] for ix in (0, 1) for iy in (0, 1) for iz in (0, 1)])


@dataclass(frozen=True)
class Part:
    """A box in the actor's frame, as fractions of (length, width, height), with face colours."""

    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float]
    side: tuple[int, int, int]
    top: tuple[int, int, int] | None = None
    front: tuple[int, int, int] | None = None
    back: tuple[int, int, int] | None = None

    def colour(self, face: str) -> tuple[int, int, int]:
        value = {"top": self.top, "front": self.front, "back": self.back}.get(face)
        return value if value is not None else self.side


def _lighter(rgb, k: float = 0.25) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * k) for c in rgb)  # type: ignore[return-value]


def vehicle_parts(vtype: str, body) -> list[Part]:
    """The boxes of a vehicle type painted `body` (RGB)."""
    skirt = Part((-0.46, 0.46), (-0.47, 0.47), (0.0, 0.12), TYRE)
    if vtype == "bus":
        return [
            skirt,
            Part((-0.5, 0.5), (-0.5, 0.5), (0.1, 0.45), body),
            Part((-0.5, 0.5), (-0.49, 0.49), (0.45, 0.85), GLASS),
            Part((-0.5, 0.5), (-0.5, 0.5), (0.85, 1.0), body),
        ]
    if vtype == "truck":
        return [
            skirt,
            Part((0.24, 0.5), (-0.5, 0.5), (0.12, 0.55), body),
            Part((0.26, 0.5), (-0.48, 0.48), (0.55, 0.8), GLASS, top=body, back=body),
            Part((-0.5, 0.22), (-0.5, 0.5), (0.12, 1.0), _lighter(body, 0.12)),
        ]
    if vtype == "van":
        return [
            skirt,
            Part((0.32, 0.5), (-0.5, 0.5), (0.1, 0.45), body),
            Part((-0.5, 0.32), (-0.5, 0.5), (0.1, 0.62), body),
            Part((-0.5, 0.32), (-0.49, 0.49), (0.62, 1.0), body, front=GLASS),
        ]
    if vtype == "suv":
        return [
            skirt,
            Part((-0.5, 0.5), (-0.5, 0.5), (0.12, 0.6), body),
            Part((-0.4, 0.2), (-0.46, 0.46), (0.6, 1.0), GLASS, top=body),
        ]
    return [  # car
        skirt,
        Part((-0.5, 0.5), (-0.5, 0.5), (0.12, 0.55), body),
        Part((-0.28, 0.18), (-0.45, 0.45), (0.55, 1.0), GLASS, top=body),
    ]


def pedestrian_parts(top, bottom, skin) -> list[Part]:
    """A standing figure: legs, torso with arms, head (fractions of depth, width, height)."""
    return [
        Part((-0.35, 0.35), (-0.32, 0.32), (0.0, 0.47), bottom),
        Part((-0.5, 0.5), (-0.5, 0.5), (0.47, 0.83), top),
        Part((-0.32, 0.32), (-0.24, 0.24), (0.85, 1.0), skin),
    ]


def actor_parts(actor: ActorState) -> list[Part]:
    spec = actor.spec
    if spec.category == "pedestrian":
        return pedestrian_parts(spec.colour_rgb, spec.secondary_rgb, spec.skin_rgb)
    return vehicle_parts(spec.type, spec.colour_rgb)


def parts_corners(actor: ActorState, parts: list[Part]) -> np.ndarray:
    """(P, 8, 3) world corners of an actor's boxes."""
    length, width, height = actor.spec.size_m
    lo = np.array([[p.x[0], p.y[0], p.z[0]] for p in parts]) * (length, width, height)
    hi = np.array([[p.x[1], p.y[1], p.z[1]] for p in parts]) * (length, width, height)
    local = lo[:, None, :] + (hi - lo)[:, None, :] * _CORNER_SIGNS[None, :, :]
    c, s = math.cos(actor.heading), math.sin(actor.heading)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rot.T + (actor.x, actor.y, actor.z)


def bounding_box_corners(actor: ActorState) -> np.ndarray:
    """(8, 3) world corners of the actor's whole 3D box (for the amodal 2D box)."""
    box = Part((-0.5, 0.5), (-0.5, 0.5), (0.0, 1.0), (0, 0, 0))
    return parts_corners(actor, [box])[0]


def visible_faces(
    actor: ActorState,
    parts: list[Part],
    camera_pos: np.ndarray,
    light_dir: np.ndarray,
    ambient: float,
    tint: np.ndarray,
) -> tuple[list[np.ndarray], list[tuple[int, int, int]]]:
    """World polygons of the faces turned towards the camera, and their shaded BGR colours."""
    corners = parts_corners(actor, parts)  # (P, 8, 3)
    c, s = math.cos(actor.heading), math.sin(actor.heading)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    normals = _FACE_NORMALS @ rot.T  # (F, 3)
    quads = corners[:, _FACE_IDX, :]  # (P, F, 4, 3)
    centres = quads.mean(axis=2)
    facing = np.einsum("pfk,fk->pf", camera_pos - centres, normals) > 1e-6
    light = ambient + (1.0 - ambient) * np.clip(normals @ light_dir, 0.0, 1.0)  # (F,)
    faces, colours = [], []
    for p, part in enumerate(parts):
        for f, (name, _, _) in enumerate(FACES):
            if not facing[p, f]:
                continue
            rgb = np.array(part.colour(name), np.float64) * light[f] * tint
            r, g, b = np.clip(rgb, 0, 255).astype(np.uint8).tolist()
            faces.append(quads[p, f])
            colours.append((b, g, r))
    return faces, colours
