"""`videos/<vid>/video.json`: the camera and the recording settings of one video.

The camera model is a pinhole in SUMO's world frame (metres, x east, y north, z up). The pose
is the camera's position and its yaw/pitch/roll in degrees: yaw 0 looks east (+x) and grows
counter-clockwise (towards north), pitch is positive looking up, roll turns the image
clockwise. The Unreal bridge converts this pose to Unreal's frame in one place.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from uecity.records.base import Record, VideoId


class CameraIntrinsics(Record):
    """Pinhole intrinsics in pixels (no distortion)."""

    fx: float = Field(gt=0, description="Focal length along x, pixels.")
    fy: float = Field(gt=0, description="Focal length along y, pixels.")
    cx: float = Field(description="Principal point x, pixels.")
    cy: float = Field(description="Principal point y, pixels.")


class CameraExtrinsics(Record):
    """Camera pose in the world frame (SUMO's: metres, x east, y north, z up)."""

    position_m: tuple[float, float, float] = Field(description="Camera centre (x, y, z), metres.")
    yaw_deg: float = Field(ge=-360, le=360, description="Heading, 0 = east, CCW positive.")
    pitch_deg: float = Field(ge=-90, le=90, description="Up positive; surveillance looks down.")
    roll_deg: float = Field(default=0.0, ge=-180, le=180, description="Image roll, degrees.")


class CameraModel(Record):
    intrinsics: CameraIntrinsics
    extrinsics: CameraExtrinsics


class VideoInfo(Record):
    """The metadata of one video at `videos/<vid>/video.json`."""

    video_id: VideoId
    width: int = Field(ge=16, le=16384, description="Image width, pixels.")
    height: int = Field(ge=16, le=16384, description="Image height, pixels.")
    fps: float = Field(gt=0, le=1000, description="Frames per second.")
    num_frames: int = Field(ge=0, description="Frames 0 .. num_frames-1 exist.")
    image_format: Literal["jpg", "png"] = Field(description="File type of `frames/*`.")
    backend: str = Field(min_length=1, description="Render backend: 'sim', 'unrealcv', ...")
    seed: int | None = Field(default=None, ge=0, description="Seed of this video's generator.")
    camera: CameraModel
    scene: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Scene facts (template, lighting, weather, ...)."
    )
    frame_times_s: tuple[float, ...] | None = Field(
        default=None,
        exclude_if=lambda times: times is None,  # absent, not null: puppeteer files unchanged
        description=(
            "Measured time of each frame, seconds from frame 0, where frames are not 1/fps "
            "apart (observe mode: the engine runs freely between captures); absent otherwise."
        ),
    )

    @model_validator(mode="after")
    def _principal_point_inside(self) -> VideoInfo:
        k = self.camera.intrinsics
        if not (0 <= k.cx <= self.width and 0 <= k.cy <= self.height):
            raise ValueError(
                f"principal point ({k.cx}, {k.cy}) lies outside the "
                f"{self.width}x{self.height} image"
            )
        if self.frame_times_s is not None:
            times = self.frame_times_s
            if len(times) != self.num_frames:
                raise ValueError(
                    f"frame_times_s has {len(times)} times for {self.num_frames} frames"
                )
            if any(b < a for a, b in pairwise(times)):
                raise ValueError("frame_times_s must not decrease")
        return self

    def frame_name(self, frame: int) -> str:
        """File name of a frame: 0-based, six digits, e.g. `000017.jpg`."""
        return f"{frame:06d}.{self.image_format}"
