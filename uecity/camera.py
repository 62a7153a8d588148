"""The pinhole camera model shared by every render backend.

Intrinsics (fx, fy, cx, cy, width, height) and extrinsics (position in the network frame,
yaw/pitch/roll in degrees) define world→pixel projection. Conventions:

- World: SUMO's network frame, metres, x east, y north, z up.
- yaw: heading of the optical axis, degrees counter-clockwise from east (x) seen from above;
  pitch: degrees above the horizon (negative looks down); roll: degrees about the optical axis,
  positive turning the camera's right side up (as `uecity.unreal.coordinates` expects).
- Camera frame (OpenCV): x right, y down, z forward. Pixel (u, v) has its origin at the
  top-left corner of the top-left pixel, so pixel column i covers u in [i, i+1).

The Unreal backend converts this pose to Unreal's left-handed centimetre frame in one place of
its own; the projection here is what both backends' boxes are computed with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Camera:
    """A static pinhole camera with square pixels and no distortion."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    x: float
    y: float
    z: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float = 0.0
    fps: float = 10.0

    @classmethod
    def from_fov(
        cls,
        width: int,
        height: int,
        fov_deg: float,
        position: tuple[float, float, float],
        yaw_deg: float,
        pitch_deg: float,
        roll_deg: float = 0.0,
        fps: float = 10.0,
    ) -> Camera:
        """A camera from its horizontal field of view (as Unreal and UnrealCV specify it)."""
        f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
        return cls(
            width,
            height,
            f,
            f,
            width / 2.0,
            height / 2.0,
            *position,
            yaw_deg,
            pitch_deg,
            roll_deg,
            fps,
        )

    @property
    def fov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.width / 2.0 / self.fx))

    @property
    def position(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z], dtype=np.float64)

    @cached_property
    def _rotation(self) -> np.ndarray:
        return self._compute_rotation()

    def rotation(self) -> np.ndarray:
        """World→camera rotation matrix R (rows: camera x right, y down, z forward)."""
        return self._rotation.copy()

    def _compute_rotation(self) -> np.ndarray:
        yaw, pitch, roll = (math.radians(a) for a in (self.yaw_deg, self.pitch_deg, self.roll_deg))
        forward = np.array(
            [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)]
        )
        right0 = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        up0 = np.cross(right0, forward)
        right = math.cos(roll) * right0 + math.sin(roll) * up0
        up = np.cross(right, forward)
        return np.stack([right, -up, forward])

    def intrinsics(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points → (..., 3) camera-frame points (z = depth along the axis)."""
        return (np.asarray(points, np.float64) - self.position) @ self._rotation.T

    def camera_to_pixel(self, points_cam: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points with z > 0 → (N, 2) pixel coordinates."""
        p = np.asarray(points_cam, np.float64)
        z = p[:, 2]
        return np.stack([self.fx * p[:, 0] / z + self.cx, self.fy * p[:, 1] / z + self.cy], 1)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points → (pixels (N, 2), depth (N,)); pixels are meaningless where depth <= 0."""
        cam = self.world_to_camera(points)
        z = cam[:, 2]
        safe = np.where(np.abs(z) < 1e-9, 1e-9, z)
        uv = np.stack(
            [self.fx * cam[:, 0] / safe + self.cx, self.fy * cam[:, 1] / safe + self.cy], 1
        )
        return uv, z

    def pixel_ray(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) pixels → (N, 3) unit view rays in the world frame."""
        uv = np.asarray(uv, np.float64)
        d = np.stack(
            [(uv[:, 0] - self.cx) / self.fx, (uv[:, 1] - self.cy) / self.fy, np.ones(len(uv))], 1
        )
        d = d @ self.rotation()
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def unproject_to_ground(self, uv: np.ndarray, ground_z: float = 0.0) -> np.ndarray:
        """(N, 2) pixels → (N, 3) points where their rays meet z = ground_z (NaN if never)."""
        rays = self.pixel_ray(uv)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (ground_z - self.z) / rays[:, 2]
        t = np.where(t > 0, t, np.nan)
        return self.position + rays * t[:, None]

    def scaled(self, factor: float) -> Camera:
        """The same camera at another resolution (same field of view)."""
        return replace(
            self,
            width=max(1, round(self.width * factor)),
            height=max(1, round(self.height * factor)),
            fx=self.fx * factor,
            fy=self.fy * factor,
            cx=self.cx * factor,
            cy=self.cy * factor,
        )

    def ground_forward(self) -> np.ndarray:
        """Unit 2D direction of the optical axis on the ground."""
        yaw = math.radians(self.yaw_deg)
        return np.array([math.cos(yaw), math.sin(yaw)])


def look_at_pose(
    position: tuple[float, float, float], target: tuple[float, float, float]
) -> tuple[float, float]:
    """(yaw, pitch) in degrees of a camera at `position` looking at `target`."""
    dx, dy, dz = (t - p for t, p in zip(target, position, strict=True))
    yaw = math.degrees(math.atan2(dy, dx))
    pitch = math.degrees(math.atan2(dz, math.hypot(dx, dy)))
    return yaw, pitch


def auto_camera(
    rng: np.random.Generator,
    width: int,
    height: int,
    fps: float,
    arm_angles_deg: list[float],
    height_m: tuple[float, float],
    distance_m: tuple[float, float],
    fov_deg: tuple[float, float],
) -> Camera:
    """A camera framing the junction: on a corner between two arms, looking at the centre.

    The corner, height, distance and FOV are drawn from `rng`; the aim point is pushed a little
    past the centre so that the junction sits in the lower-middle of the image, as on a pole.
    """
    angles = sorted(a % 360.0 for a in arm_angles_deg)
    gaps = [
        ((b - a) % 360.0 or 360.0, a) for a, b in zip(angles, angles[1:] + angles[:1], strict=True)
    ]
    gap, start = gaps[int(rng.integers(len(gaps)))]
    azimuth = math.radians(start + gap / 2.0 + rng.uniform(-0.15, 0.15) * min(gap, 90.0))
    h = float(rng.uniform(*height_m))
    d = float(rng.uniform(*distance_m))
    pos = (d * math.cos(azimuth), d * math.sin(azimuth), h)
    beyond = float(rng.uniform(0.0, 0.25)) * d
    target = (-math.cos(azimuth) * beyond, -math.sin(azimuth) * beyond, 0.0)
    yaw, pitch = look_at_pose(pos, target)
    return Camera.from_fov(width, height, float(rng.uniform(*fov_deg)), pos, yaw, pitch, 0.0, fps)
