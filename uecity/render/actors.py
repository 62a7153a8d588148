"""Actor shapes: each vehicle type and pedestrians as a few coloured boxes with the type's
proportions (a bus is long and tall with a window band, a truck a cab plus a cargo box, a van a
tall box with a short bonnet, a car a body with a cabin), and their faces for a whole frame at
once: world corners, which faces turn to the camera, and their shaded colours.

Boxes are given in the actor's local frame as fractions of its (length, width, height): x
forward, y left, z up, origin at the centre of the footprint on the ground. Face colours are
roles (body, glass, ...) resolved per actor, so one frame's geometry is a few array operations
whatever the number of actors. Far actors use a one-box level of detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uecity.traffic.simulation import ActorState

# Colour roles of a face.
BODY, GLASS, TYRE, CARGO, TOP, BOTTOM, SKIN = range(7)
GLASS_RGB = (40, 48, 58)
TYRE_RGB = (25, 25, 25)

# Corner index = ix * 4 + iy * 2 + iz of (x0|x1, y0|y1, z0|z1). Faces with outward normals in
# the local frame; bottoms are never seen from a surveillance camera.
FACE_NAMES = ("top", "front", "back", "left", "right")
FACE_CORNERS = np.array([(1, 5, 7, 3), (4, 6, 7, 5), (0, 1, 3, 2), (2, 3, 7, 6), (0, 4, 5, 1)])
FACE_NORMALS = np.array(
    [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0)]
)
CORNER_SIGNS = np.array([[ix, iy, iz] for ix in (0, 1) for iy in (0, 1) for iz in (0, 1)], float)


@dataclass(frozen=True)
class Shape:
    """Boxes of one actor kind: bounds (P, 2, 3) as fractions, face roles (P, 5)."""

    bounds: np.ndarray
    roles: np.ndarray


def _shape(parts: list[tuple]) -> Shape:
    """parts: (x0, x1, y0, y1, z0, z1, side role, {face name: role})."""
    bounds, roles = [], []
    for x0, x1, y0, y1, z0, z1, side, special in parts:
        bounds.append([(x0, y0, z0), (x1, y1, z1)])
        roles.append([special.get(name, side) for name in FACE_NAMES])
    return Shape(np.array(bounds, float), np.array(roles, np.int64))


_SKIRT = (-0.46, 0.46, -0.47, 0.47, 0.0, 0.12, TYRE, {})
SHAPES: dict[str, Shape] = {
    "car": _shape(
        [
            _SKIRT,
            (-0.5, 0.5, -0.5, 0.5, 0.12, 0.55, BODY, {}),
            (-0.28, 0.18, -0.45, 0.45, 0.55, 1.0, GLASS, {"top": BODY}),
        ]
    ),
    "suv": _shape(
        [
            _SKIRT,
            (-0.5, 0.5, -0.5, 0.5, 0.12, 0.6, BODY, {}),
            (-0.4, 0.2, -0.46, 0.46, 0.6, 1.0, GLASS, {"top": BODY}),
        ]
    ),
    "van": _shape(
        [
            _SKIRT,
            (0.32, 0.5, -0.5, 0.5, 0.1, 0.45, BODY, {}),
            (-0.5, 0.32, -0.5, 0.5, 0.1, 0.62, BODY, {}),
            (-0.5, 0.32, -0.49, 0.49, 0.62, 1.0, BODY, {"front": GLASS}),
        ]
    ),
    "bus": _shape(
        [
            _SKIRT,
            (-0.5, 0.5, -0.5, 0.5, 0.1, 0.45, BODY, {}),
            (-0.5, 0.5, -0.49, 0.49, 0.45, 0.85, GLASS, {}),
            (-0.5, 0.5, -0.5, 0.5, 0.85, 1.0, BODY, {}),
        ]
    ),
    "truck": _shape(
        [
            _SKIRT,
            (0.24, 0.5, -0.5, 0.5, 0.12, 0.55, BODY, {}),
            (0.26, 0.5, -0.48, 0.48, 0.55, 0.8, GLASS, {"top": BODY, "back": BODY}),
            (-0.5, 0.22, -0.5, 0.5, 0.12, 1.0, CARGO, {}),
        ]
    ),
    "pedestrian": _shape(
        [
            (-0.35, 0.35, -0.32, 0.32, 0.0, 0.47, BOTTOM, {}),
            (-0.5, 0.5, -0.5, 0.5, 0.47, 0.83, TOP, {}),
            (-0.32, 0.32, -0.24, 0.24, 0.85, 1.0, SKIN, {}),
        ]
    ),
}
#: One-box stand-ins for actors a few pixels tall.
FAR_SHAPES: dict[str, Shape] = {
    "vehicle": _shape([(-0.5, 0.5, -0.5, 0.5, 0.0, 0.8, BODY, {})]),
    "pedestrian": _shape([(-0.45, 0.45, -0.4, 0.4, 0.0, 1.0, TOP, {})]),
}
UNIT_BOX = _shape([(-0.5, 0.5, -0.5, 0.5, 0.0, 1.0, BODY, {})])


def shape_of(actor: ActorState, far: bool = False) -> Shape:
    category = actor.spec.category
    if far:
        return FAR_SHAPES["pedestrian" if category == "pedestrian" else "vehicle"]
    return SHAPES["pedestrian" if category == "pedestrian" else actor.spec.type]


def palette(actor: ActorState) -> np.ndarray:
    """(7, 3) RGB of the colour roles for this actor."""
    s = actor.spec
    body = np.array(s.colour_rgb, float)
    cargo = body + (255 - body) * 0.12
    return np.array(
        [body, GLASS_RGB, TYRE_RGB, cargo, s.colour_rgb, s.secondary_rgb, s.skin_rgb], float
    )


def _rotations(headings: np.ndarray) -> np.ndarray:
    c, s = np.cos(headings), np.sin(headings)
    rot = np.zeros((len(headings), 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1.0
    return rot


def box_corners(
    bounds: np.ndarray, sizes: np.ndarray, headings: np.ndarray, origins: np.ndarray
) -> np.ndarray:
    """(B, 8, 3) world corners of B boxes given as fractions `bounds` (B, 2, 3) of `sizes`."""
    lo = bounds[:, 0] * sizes
    hi = bounds[:, 1] * sizes
    local = lo[:, None, :] + (hi - lo)[:, None, :] * CORNER_SIGNS[None]
    return np.einsum("bij,bkj->bki", _rotations(headings), local) + origins[:, None, :]


def actors_box_corners(actors: list[ActorState]) -> np.ndarray:
    """(N, 8, 3) world corners of each actor's whole 3D box."""
    n = len(actors)
    if n == 0:
        return np.zeros((0, 8, 3))
    return box_corners(
        np.repeat(UNIT_BOX.bounds, n, axis=0),
        np.array([a.spec.size_m for a in actors], float),
        np.array([a.heading for a in actors], float),
        np.array([(a.x, a.y, a.z) for a in actors], float),
    )


@dataclass
class FrameFaces:
    """Every box face of a frame's actors: corners, normals, colours and owner."""

    quads: np.ndarray  # (B, 5, 4, 3) world corners of each face
    normals: np.ndarray  # (B, 5, 3) world normals
    colours_rgb: np.ndarray  # (B, 5, 3) shaded colours
    owner: np.ndarray  # (B,) index of the actor each box belongs to


def frame_faces(
    actors: list[ActorState], far: list[bool], sun: np.ndarray, ambient: float, tint: np.ndarray
) -> FrameFaces:
    """The boxes of all `actors` at once, shaded by a sun direction, ambient share and tint."""
    shapes = [shape_of(a, f) for a, f in zip(actors, far, strict=True)]
    counts = np.array([len(s.bounds) for s in shapes])
    owner = np.repeat(np.arange(len(actors)), counts)
    bounds = np.concatenate([s.bounds for s in shapes])
    roles = np.concatenate([s.roles for s in shapes])
    sizes = np.array([a.spec.size_m for a in actors], float)[owner]
    headings = np.array([a.heading for a in actors], float)[owner]
    origins = np.array([(a.x, a.y, a.z) for a in actors], float)[owner]
    corners = box_corners(bounds, sizes, headings, origins)  # (B, 8, 3)
    quads = corners[:, FACE_CORNERS, :]  # (B, 5, 4, 3)
    normals = np.einsum("bij,fj->bfi", _rotations(headings), FACE_NORMALS)  # (B, 5, 3)
    light = ambient + (1.0 - ambient) * np.clip(normals @ sun, 0.0, 1.0)  # (B, 5)
    palettes = np.stack([palette(a) for a in actors])[owner]  # (B, 7, 3)
    base = np.take_along_axis(palettes, roles[:, :, None], axis=1)  # (B, 5, 3)
    colours = np.clip(base * light[:, :, None] * tint, 0, 255)
    return FrameFaces(quads, normals, colours, owner)
