"""A small hand-made Refer-KITTI tree for the data, training, tracking and evaluation tests.

Two videos of 6 frames at 96×64: a red box moving right (id 1), a blue box moving down (id 2),
and in video 0002 a third, green box (id 7) from frame 2 on. Expressions: "the red car on the
left" refers to id 1 on every frame; "blue cars" to id 2 on frames 1..4; "cars turning right"
(video 0002) to ids 2 and 7. Video 0001 is the train split, 0002 the test split.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FRAMES = 96, 64, 6
COLOURS_BGR = {1: (0, 0, 220), 2: (220, 0, 0), 7: (0, 200, 0)}


def boxes_at(video: str, frame: int) -> dict[int, tuple[float, float, float, float]]:
    """xyxy pixels (exclusive edges) of every object at `frame`."""
    boxes = {
        1: (4.0 + 4 * frame, 8.0, 24.0 + 4 * frame, 24.0),
        2: (56.0, 4.0 + 3 * frame, 72.0, 20.0 + 3 * frame),
    }
    if video == "0002" and frame >= 2:
        boxes[7] = (30.0, 40.0, 46.0, 56.0)
    return boxes


def expressions(video: str) -> dict[str, dict]:
    items = {
        "the-red-car-on-the-left": ("the red car on the left", {f: [1] for f in range(FRAMES)}),
        "blue-cars": ("blue cars", {f: [2] for f in range(1, 5)}),
    }
    if video == "0002":
        items["cars-turning-right"] = (
            "cars turning right",
            {f: [2, 7] if f >= 2 else [2] for f in range(FRAMES)},
        )
    return {
        name: {
            "label": {str(f): ids for f, ids in label.items()},
            "ignore": [],
            "video_name": video,
            "sentence": sentence,
        }
        for name, (sentence, label) in items.items()
    }


def write_tree(root: Path, videos: tuple[str, ...] = ("0001", "0002"), seqmap: bool = True) -> Path:
    train_lines = []
    for video in videos:
        images = root / "KITTI/training/image_02" / video
        labels = root / "KITTI/labels_with_ids/image_02" / video
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for frame in range(FRAMES):
            image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
            lines = []
            for track, (x1, y1, x2, y2) in boxes_at(video, frame).items():
                cv2.rectangle(
                    image, (int(x1), int(y1)), (int(x2) - 1, int(y2) - 1), COLOURS_BGR[track], -1
                )
                lines.append(
                    f"0 {track} {x1 / WIDTH:.6f} {y1 / HEIGHT:.6f} "
                    f"{(x2 - x1) / WIDTH:.6f} {(y2 - y1) / HEIGHT:.6f}\n"
                )
            cv2.imwrite(str(images / f"{frame:06d}.png"), image)
            (labels / f"{frame:06d}.txt").write_text("".join(lines))
            if video == videos[0]:
                train_lines.append(f"KITTI/training/image_02/{video}/{frame:06d}.png\n")
        folder = root / "expression" / video
        folder.mkdir(parents=True)
        for name, data in expressions(video).items():
            (folder / f"{name}.json").write_text(json.dumps(data))
    if seqmap:
        (root / "refer-kitti.train").write_text("".join(train_lines))
        test = videos[-1]
        (root / "seqmap").write_text("".join(f"{test}+{name}\n" for name in expressions(test)))
    return root
