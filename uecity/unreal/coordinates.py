"""SUMO's world frame ↔ Unreal's frame: the one place where the two meet.

World (SUMO, ours): metres, right-handed, x east, y north, z up; headings in degrees
counter-clockwise from east. Camera pose as `uecity.records.video.CameraExtrinsics`: yaw
counter-clockwise from east, pitch positive looking up, roll positive turning the camera's
right side up (so the image content turns clockwise).

Unreal: centimetres, left-handed, X forward, Y right, Z up. We map world east to Unreal +X and
world north to Unreal -Y (so the map is not mirrored), hence:

    X = 100 x,   Y = -100 y,   Z = 100 z
    Unreal yaw = -heading  (Unreal yaw turns from +X towards +Y, i.e. clockwise seen from above)
    Unreal pitch = pitch   (positive nose up in both)
    Unreal roll = -roll    (Unreal's positive roll lowers the right side)

UnrealCV takes rotations as `pitch yaw roll`. A camera's FOV in Unreal is the horizontal one.
"""

from __future__ import annotations

import math

CM_PER_M = 100.0


def _wrap_deg(angle: float) -> float:
    """An angle in degrees, wrapped to (-180, 180]."""
    wrapped = math.fmod(angle + 180.0, 360.0)
    if wrapped <= 0:
        wrapped += 360.0
    return wrapped - 180.0


def world_to_unreal_location(x: float, y: float, z: float) -> tuple[float, float, float]:
    """World metres (x east, y north, z up) → Unreal centimetres (X, Y, Z)."""
    return (x * CM_PER_M, -y * CM_PER_M, z * CM_PER_M)


def unreal_to_world_location(x_cm: float, y_cm: float, z_cm: float) -> tuple[float, float, float]:
    """Unreal centimetres (X, Y, Z) → world metres (x east, y north, z up)."""
    return (x_cm / CM_PER_M, -y_cm / CM_PER_M, z_cm / CM_PER_M)


def heading_to_unreal_yaw(heading_deg: float) -> float:
    """World heading (CCW from east) → Unreal yaw (CW from +X seen from above), in (-180, 180]."""
    return _wrap_deg(-heading_deg)


def unreal_yaw_to_heading(yaw_deg: float) -> float:
    """Unreal yaw → world heading (CCW from east), in (-180, 180]."""
    return _wrap_deg(-yaw_deg)


def camera_to_unreal_rotation(
    yaw_deg: float, pitch_deg: float, roll_deg: float = 0.0
) -> tuple[float, float, float]:
    """Our camera angles → Unreal (pitch, yaw, roll), the order UnrealCV's `rotation` takes."""
    return (pitch_deg, heading_to_unreal_yaw(yaw_deg), _wrap_deg(-roll_deg))


def unreal_to_camera_rotation(
    pitch_deg: float, yaw_deg: float, roll_deg: float
) -> tuple[float, float, float]:
    """Unreal (pitch, yaw, roll) → our camera (yaw, pitch, roll)."""
    return (unreal_yaw_to_heading(yaw_deg), pitch_deg, _wrap_deg(-roll_deg))


def horizontal_fov_deg(fx: float, width: int) -> float:
    """The horizontal field of view (Unreal's FOV) of a pinhole with focal length `fx`."""
    return math.degrees(2.0 * math.atan(width / (2.0 * fx)))


def focal_from_horizontal_fov(fov_deg: float, width: int) -> float:
    """The focal length in pixels of a camera `width` pixels wide with horizontal FOV `fov_deg`."""
    return width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
