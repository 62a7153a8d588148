"""Scripted intersection traffic written through the dataset API, for composition tests and
the compose benchmark.

Each video gets a few dozen tracks over its frames: vehicles (car, suv, van, bus, truck, in a
dozen colours) that drive through with a manoeuvre, sometimes stop, or stay parked; pedestrians
that walk on the sidewalk and sometimes cross the road; a few cyclists. Motion intervals use the
label names the generator is expected to write (`moving`, `turning left`, `towards`,
`crossing the road`, ...), optionally with a prefix, so label matching is exercised too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tests.factories import BOX_ROW_COLUMNS, as_video_boxes
from uecity import __version__
from uecity.dataset import Dataset
from uecity.image_files import encode_image
from uecity.records import (
    CameraExtrinsics,
    CameraIntrinsics,
    CameraModel,
    DatasetManifest,
    GeneratorInfo,
    MotionInterval,
    ObjectRecord,
    VideoInfo,
)

VEHICLE_TYPES = {"car": 0.45, "suv": 0.2, "van": 0.15, "bus": 0.1, "truck": 0.1}
COLOURS = {
    "black": 0.16,
    "white": 0.16,
    "grey": 0.14,
    "silver": 0.12,
    "red": 0.08,
    "blue": 0.08,
    "green": 0.05,
    "yellow": 0.05,
    "orange": 0.04,
    "brown": 0.04,
    "beige": 0.04,
    "purple": 0.04,
}
COLOUR_RGB = {
    "black": (20, 20, 20),
    "white": (240, 240, 240),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "red": (200, 30, 30),
    "blue": (30, 60, 200),
    "green": (30, 150, 60),
    "yellow": (230, 210, 40),
    "orange": (240, 140, 30),
    "brown": (120, 80, 40),
    "beige": (220, 200, 160),
    "purple": (120, 50, 150),
}
HEADINGS = ["towards", "away", "crossing left-to-right", "crossing right-to-left"]


@dataclass(frozen=True)
class TrafficSpec:
    """Size of the scripted dataset."""

    videos: int = 2
    num_frames: int = 100
    width: int = 160
    height: int = 90
    concurrent: float = 25.0  # mean objects on screen
    image_format: str = "jpg"
    label_prefix: str = ""  # e.g. "motion:" to test prefix stripping
    seed: int = 0


def _weighted(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    p = np.array(list(table.values()))
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _interval(track: int, label: str, start: int, end: int, prefix: str) -> MotionInterval:
    return MotionInterval(track_id=track, label=prefix + label, start=start, end=end, source="auto")


def _script_track(
    track: int, start: int, end: int, rng: np.random.Generator, spec: TrafficSpec
) -> tuple[ObjectRecord, list[MotionInterval], np.ndarray]:
    """One object: its record, intervals and a (frames, 2) path of normalised bottom-centres."""
    p = spec.label_prefix
    kind = _weighted(rng, {"vehicle": 0.65, "pedestrian": 0.3, "cyclist": 0.05})
    frames = np.arange(start, end + 1)
    t = (frames - start) / max(end - start, 1)
    length = end - start
    intervals: list[MotionInterval] = []
    heading = HEADINGS[int(rng.integers(4))]
    a = rng.uniform(0.05, 0.95, 2)
    directions = {
        "towards": (0.0, 0.6),
        "away": (0.0, -0.6),
        "crossing left-to-right": (0.8, 0.05),
        "crossing right-to-left": (-0.8, 0.05),
    }
    if kind == "vehicle":
        vtype = _weighted(rng, VEHICLE_TYPES)
        colour = _weighted(rng, COLOURS)
        record = ObjectRecord(
            track_id=track,
            category="vehicle",
            type=vtype,
            colour_name=colour,
            colour_rgb=COLOUR_RGB[colour],
            size_m=(4.5, 1.8, 1.5),
        )
        if rng.random() < 0.12:
            intervals.append(_interval(track, "parked", start, end, p))
            path = np.repeat(a[None], len(frames), axis=0)
            return record, intervals, path
        manoeuvre = _weighted(
            rng, {"turning left": 0.25, "turning right": 0.25, "going straight": 0.5}
        )
        stop = rng.random() < 0.3 and length > 40
        if stop:
            s0 = start + int(rng.integers(5, max(length // 3, 6)))
            s1 = min(end, s0 + int(rng.integers(10, 40)))
            intervals.append(_interval(track, "stopped", s0, s1, p))
            if s0 > start:
                intervals.append(_interval(track, "moving", start, s0 - 1, p))
            if s1 < end:
                intervals.append(_interval(track, "moving", s1 + 1, end, p))
        else:
            intervals.append(_interval(track, "moving", start, end, p))
        if manoeuvre == "going straight":
            intervals.append(_interval(track, manoeuvre, start, end, p))
            intervals.append(_interval(track, heading, start, end, p))
        else:
            m0 = start + int(length * rng.uniform(0.2, 0.4))
            m1 = start + int(length * rng.uniform(0.6, 0.8))
            intervals.append(_interval(track, manoeuvre, m0, m1, p))
            middle = (m0 + m1) // 2
            after = HEADINGS[(HEADINGS.index(heading) + (2 if "left" in manoeuvre else 3)) % 4]
            intervals.append(_interval(track, heading, start, middle, p))
            if middle < end:
                intervals.append(_interval(track, after, middle + 1, end, p))
    else:
        record = ObjectRecord(
            track_id=track,
            category=kind,
            type="pedestrian" if kind == "pedestrian" else "bicycle",
            size_m=(0.5, 0.5, 1.75),
        )
        intervals.append(_interval(track, "moving", start, end, p))
        intervals.append(_interval(track, heading, start, end, p))
        if kind == "pedestrian":
            if rng.random() < 0.5 and length > 20:
                c0 = start + length // 3
                c1 = start + 2 * length // 3
                intervals.append(_interval(track, "walking on the sidewalk", start, c0 - 1, p))
                intervals.append(_interval(track, "crossing the road", c0, c1, p))
                if c1 < end:
                    intervals.append(_interval(track, "walking on the sidewalk", c1 + 1, end, p))
            else:
                intervals.append(_interval(track, "walking on the sidewalk", start, end, p))
    direction = np.array(directions[heading]) * rng.uniform(0.5, 1.0)
    path = a[None] + t[:, None] * direction[None]
    return record, intervals, path


def build_traffic_dataset(root: Path, spec: TrafficSpec = TrafficSpec()) -> Dataset:
    """A dataset of `spec.videos` scripted intersection videos (tiny frames unless asked)."""
    names = [f"{i + 1:04d}" for i in range(spec.videos)]
    dataset = Dataset.create(
        root,
        DatasetManifest(
            name="traffic",
            videos=names,
            generator=GeneratorInfo(name="uecity-tests", version=__version__),
            seed=spec.seed,
        ),
    )
    rng_root = np.random.SeedSequence(spec.seed).spawn(spec.videos)
    for index, name in enumerate(names):
        rng = np.random.default_rng(rng_root[index])
        video = dataset.video(name)
        w, h, n = spec.width, spec.height, spec.num_frames
        video.write_info(
            VideoInfo(
                video_id=name,
                width=w,
                height=h,
                fps=10.0,
                num_frames=n,
                image_format=spec.image_format,
                backend="sim",
                seed=index,
                camera=CameraModel(
                    intrinsics=CameraIntrinsics(fx=w, fy=w, cx=w / 2, cy=h / 2),
                    extrinsics=CameraExtrinsics(
                        position_m=(0.0, -30.0, 10.0), yaw_deg=90.0, pitch_deg=-25.0
                    ),
                ),
            )
        )
        mean_life = 0.45 * n
        count = max(3, int(spec.concurrent * n / mean_life))
        objects, intervals, rows = [], [], []
        for track in range(count):
            life = int(rng.uniform(0.15, 0.75) * n) + 5
            start = int(rng.integers(-life // 2, n - 3))
            end = min(n - 1, start + life)
            start = max(0, start)
            record, track_intervals, path = _script_track(track, start, end, rng, spec)
            objects.append(record)
            frames = np.arange(start, end + 1)
            bw = (0.12 if record.category == "vehicle" else 0.025) * w * (0.3 + 0.7 * path[:, 1])
            bh = (0.09 if record.category == "vehicle" else 0.08) * h * (0.3 + 0.7 * path[:, 1])
            x1 = np.clip(path[:, 0] * w - bw / 2, 0, w)
            x2 = np.clip(path[:, 0] * w + bw / 2, 0, w)
            y2 = np.clip(path[:, 1] * h, 0, h)
            y1 = np.clip(path[:, 1] * h - bh, 0, h)
            keep = (x2 - x1 >= 1) & (y2 - y1 >= 1)
            if keep.any():  # a label holds only where the object has a box (`uecity validate`)
                first, last = int(frames[keep].min()), int(frames[keep].max())
                intervals += [
                    i.model_copy(update={"start": max(i.start, first), "end": min(i.end, last)})
                    for i in track_intervals
                    if i.end >= first and i.start <= last
                ]
            for f, a, b, c, d in zip(
                frames[keep], x1[keep], y1[keep], x2[keep], y2[keep], strict=True
            ):
                rows.append((int(f), track, float(a), float(b), float(c), float(d), 1.0, 0.0))
        video.write_objects(objects)
        video.write_boxes(as_video_boxes(pd.DataFrame(rows, columns=[*BOX_ROW_COLUMNS])))
        video.write_motion(intervals)
        image = np.full((h, w, 3), 90, np.uint8)
        cv2.line(image, (0, h // 2), (w - 1, h // 2), (200, 200, 200), max(1, h // 60))
        data = encode_image(image, spec.image_format)
        for frame in range(n):
            video.write_frame_bytes(frame, data)
    return dataset
