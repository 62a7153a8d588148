"""Small, valid datasets built through the public API, for tests of every package."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa

from uecity import __version__
from uecity.boxes import VideoBoxes
from uecity.dataset import Dataset
from uecity.records import (
    CameraExtrinsics,
    CameraIntrinsics,
    CameraModel,
    DatasetManifest,
    Expression,
    GeneratorInfo,
    LogicNode,
    MotionInterval,
    ObjectRecord,
    VideoInfo,
    Vocabulary,
)

WIDTH, HEIGHT, NUM_FRAMES = 64, 48, 5
MOTION_LABELS = ["moving", "stopped", "turning left"]


def camera() -> CameraModel:
    return CameraModel(
        intrinsics=CameraIntrinsics(fx=50.0, fy=50.0, cx=WIDTH / 2, cy=HEIGHT / 2),
        extrinsics=CameraExtrinsics(position_m=(0.0, -20.0, 8.0), yaw_deg=90.0, pitch_deg=-20.0),
    )


BOX_ROW_COLUMNS = ("frame", "track_id", "x1", "y1", "x2", "y2", "visibility", "truncation")


def box_rows() -> pd.DataFrame:
    """Track 0 on every frame, track 1 on frames 0..2, track 2 (a pedestrian) on frames 3..4."""
    rows = []
    for frame in range(NUM_FRAMES):
        rows.append((frame, 0, 2.0 + frame, 4.0, 20.0 + frame, 16.0, 1.0, 0.0))
        if frame <= 2:
            rows.append((frame, 1, 30.0, 10.0, 50.0, 30.0, 0.8, 0.0))
        if frame >= 3:
            rows.append((frame, 2, 40.0, 20.0, 46.0, 40.0, 1.0, 0.25))
    return pd.DataFrame(rows, columns=[*BOX_ROW_COLUMNS])


def as_video_boxes(frame: pd.DataFrame) -> VideoBoxes:
    """A DataFrame of box rows (the `boxes.parquet` columns) as the box record."""
    return VideoBoxes.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


def build_small_dataset(root: Path, *, videos: tuple[str, ...] = ("0001", "0002")) -> Dataset:
    """A clean dataset: `videos` of 5 frames (png for the first, jpg for the others)."""
    manifest = DatasetManifest(
        name="small",
        videos=list(videos),
        splits={"train": list(videos[:-1]), "test": list(videos[-1:])},
        vocabulary=Vocabulary(
            categories=["vehicle", "pedestrian"],
            types=["car", "bus", "adult"],
            colours=["black", "red"],
            motion_labels=MOTION_LABELS,
        ),
        generator=GeneratorInfo(name="uecity", version=__version__),
        seed=7,
    )
    dataset = Dataset.create(root, manifest)
    for index, video_id in enumerate(videos):
        video = dataset.video(video_id)
        video.write_info(
            VideoInfo(
                video_id=video_id,
                width=WIDTH,
                height=HEIGHT,
                fps=10.0,
                num_frames=NUM_FRAMES,
                image_format="png" if index == 0 else "jpg",
                backend="sim",
                seed=index,
                camera=camera(),
            )
        )
        for frame in range(NUM_FRAMES):
            image = np.full((HEIGHT, WIDTH, 3), 40 * frame, np.uint8)
            cv2.rectangle(image, (2 + frame, 4), (19 + frame, 15), (0, 0, 255), -1)
            video.write_frame(frame, image)
        video.write_objects(
            [
                ObjectRecord(
                    track_id=0,
                    category="vehicle",
                    type="car",
                    colour_name="red",
                    colour_rgb=(200, 20, 20),
                    size_m=(4.5, 1.8, 1.5),
                ),
                ObjectRecord(
                    track_id=1,
                    category="vehicle",
                    type="bus",
                    colour_name="black",
                    colour_rgb=(10, 10, 10),
                    size_m=(12.0, 2.5, 3.2),
                ),
                ObjectRecord(
                    track_id=2, category="pedestrian", type="adult", size_m=(0.5, 0.5, 1.75)
                ),
            ]
        )
        video.write_boxes(as_video_boxes(box_rows()))
        video.write_motion(
            [
                MotionInterval(track_id=0, label="moving", start=0, end=4, source="auto"),
                MotionInterval(track_id=1, label="stopped", start=0, end=2, source="auto"),
            ]
        )
        video.write_expression(
            Expression(
                label={str(f): [0] for f in range(NUM_FRAMES)},
                video_name=video_id,
                sentence="red cars",
                expression_id="red-cars",
                atoms=["type=car", "colour=red"],
                logic=LogicNode(
                    op="and",
                    args=[
                        LogicNode(op="atom", atom="type=car"),
                        LogicNode(op="atom", atom="colour=red"),
                    ],
                ),
            )
        )
    return dataset
