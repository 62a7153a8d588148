"""A realistic-looking intersection video with moving cars, for annotator tests and benchmarks.

Written through the dataset API like `tests.factories`: a road crossing drawn with OpenCV, cars
(coloured rectangles) driving across it, some turning, their boxes and auto intervals. Seeded,
so the same arguments give the same dataset.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tests.factories import camera
from uecity import __version__
from uecity.dataset import Dataset
from uecity.records import (
    CameraIntrinsics,
    CameraModel,
    DatasetManifest,
    GeneratorInfo,
    MotionInterval,
    ObjectRecord,
    VideoInfo,
    Vocabulary,
)

LABELS = ["moving", "stopped", "turning left", "turning right"]
COLOURS = {
    "red": (40, 40, 200),
    "blue": (200, 90, 30),
    "white": (235, 235, 235),
    "black": (30, 30, 30),
    "yellow": (40, 210, 235),
    "silver": (180, 180, 170),
}


def _background(width: int, height: int) -> np.ndarray:
    image = np.full((height, width, 3), (70, 120, 80), np.uint8)  # grass (BGR)
    road = (85, 85, 85)
    half = height // 6
    cv2.rectangle(image, (0, height // 2 - half), (width, height // 2 + half), road, -1)
    cv2.rectangle(image, (width // 2 - half, 0), (width // 2 + half, height), road, -1)
    for x in range(0, width, 40):
        cv2.line(image, (x, height // 2), (x + 20, height // 2), (220, 220, 220), 2)
    for y in range(0, height, 40):
        cv2.line(image, (width // 2, y), (width // 2, y + 20), (220, 220, 220), 2)
    return image


def _path(kind: str, t: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre (x, y) along a path for progress t in [0, 1]: straight east/west or a left turn."""
    lane = height // 12
    if kind == "east":
        return np.stack([-60 + t * (width + 120), np.full_like(t, height / 2 + lane)], axis=1)
    if kind == "west":
        return np.stack([width + 60 - t * (width + 120), np.full_like(t, height / 2 - lane)], 1)
    # left turn: come from the west, turn north at the crossing
    cx, cy = width / 2 + lane, height / 2 + lane
    first = np.clip(t * 2, 0, 1)
    second = np.clip(t * 2 - 1, 0, 1)
    x = np.where(t < 0.5, -60 + first * (cx + 60), cx)
    y = np.where(t < 0.5, cy, cy - second * (cy + 60))
    return np.stack([x, y], axis=1)


def build_intersection_dataset(
    root: Path,
    *,
    width: int = 1280,
    height: int = 720,
    num_frames: int = 120,
    num_tracks: int = 12,
    video_id: str = "cross-0001",
    seed: int = 0,
    image_format: str = "jpg",
) -> Dataset:
    """One video of `num_tracks` cars crossing an intersection over `num_frames` frames."""
    rng = np.random.default_rng(seed)
    manifest = DatasetManifest(
        name="intersection-demo",
        videos=[video_id],
        splits={"test": [video_id]},
        vocabulary=Vocabulary(
            categories=["vehicle"],
            types=["car", "van"],
            colours=list(COLOURS),
            motion_labels=LABELS,
        ),
        generator=GeneratorInfo(name="uecity", version=__version__),
        seed=seed,
    )
    dataset = Dataset.create(root, manifest)
    video = dataset.video(video_id)
    base = camera()
    video.write_info(
        VideoInfo(
            video_id=video_id,
            width=width,
            height=height,
            fps=10.0,
            num_frames=num_frames,
            image_format=image_format,
            backend="sim",
            seed=seed,
            camera=CameraModel(
                intrinsics=CameraIntrinsics(fx=1000.0, fy=1000.0, cx=width / 2, cy=height / 2),
                extrinsics=base.extrinsics,
            ),
        )
    )
    scale = width / 1280
    tracks = []
    for track_id in range(num_tracks):
        kind = ["east", "west", "left"][track_id % 3]
        duration = int(rng.integers(max(4, num_frames // 4), max(5, num_frames // 2) + 1))
        first = int(rng.integers(0, max(1, num_frames - duration)))
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        length = float(rng.uniform(70, 100)) * scale
        tracks.append((track_id, kind, first, min(num_frames, first + duration), colour, length))
    background = _background(width, height)
    rows, objects, auto = [], [], []
    per_frame: list[list[tuple[int, float, float, float, float, str]]] = [
        [] for _ in range(num_frames)
    ]
    for track_id, kind, first, last, colour, length in tracks:
        frames = np.arange(first, last)
        t = (frames - first) / max(1, last - first - 1)
        centres = _path(kind, t, width, height)
        heading_ns = np.zeros(len(t), bool)
        if kind == "left":
            heading_ns = t >= 0.5
            turning = np.flatnonzero((t > 0.4) & (t < 0.6))
            if len(turning):
                auto.append(
                    MotionInterval(
                        track_id=track_id,
                        label="turning left",
                        start=int(frames[turning[0]]),
                        end=int(frames[turning[-1]]),
                        source="auto",
                    )
                )
        auto.append(
            MotionInterval(
                track_id=track_id, label="moving", start=first, end=last - 1, source="auto"
            )
        )
        for frame, (cx, cy), vertical in zip(frames, centres, heading_ns, strict=True):
            w, h = (length * 0.45, length) if vertical else (length, length * 0.45)
            x1, y1 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
            x2, y2 = min(float(width), cx + w / 2), min(float(height), cy + h / 2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            rows.append((int(frame), track_id, x1, y1, x2, y2, 1.0, 0.0))
            per_frame[frame].append((track_id, x1, y1, x2, y2, colour))
        objects.append(
            ObjectRecord(
                track_id=track_id,
                category="vehicle",
                type="car",
                colour_name=colour,
                colour_rgb=tuple(reversed(COLOURS[colour])),
                size_m=(4.5, 1.8, 1.5),
            )
        )
    for frame in range(num_frames):
        image = background.copy()
        for _track_id, x1, y1, x2, y2, colour in per_frame[frame]:
            p1, p2 = (int(x1), int(y1)), (int(x2) - 1, int(y2) - 1)
            cv2.rectangle(image, p1, p2, COLOURS[colour], -1)
            inset = int(min(x2 - x1, y2 - y1) * 0.25)
            cv2.rectangle(
                image,
                (p1[0] + inset, p1[1] + inset),
                (p2[0] - inset, p2[1] - inset),
                (50, 40, 30),
                -1,
            )
        video.write_frame(frame, image)
    video.write_objects(objects)
    video.write_boxes(
        pd.DataFrame(
            rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "visibility", "truncation"]
        )
    )
    video.write_motion(auto)
    return dataset
