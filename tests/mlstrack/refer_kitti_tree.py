"""A small hand-made Refer-KITTI tree for the data, training, tracking and evaluation tests.

Two videos of 6 frames at 96×64: a red box moving right, a blue box moving down, and in video
0002 a third, green box from frame 2 on. Track ids are global over the tree, as in Refer-KITTI:
video 0001 has ids 1 (red) and 2 (blue), video 0002 ids 11, 12 and 17 (`track_id`).
Expressions: "the red car on the left" refers to the red box on every frame; "blue cars" to the
blue one on frames 1..4; "cars turning right" (video 0002) to the blue and green ones. Video
0001 is the train split, 0002 the test split. Paths, label lines, expression files, the train
list and the seqmap come from `uecity.formats` (the one definition of the layout).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from uecity.core.box_formats import xyxy_to_refer_kitti_x1y1wh_normalised
from uecity.formats.mot_challenge import seqmap_text, sequence_name
from uecity.formats.refer_kitti import (
    ReferKittiTree,
    expression_json,
    frame_name,
    label_line,
    train_list_text,
)

WIDTH, HEIGHT, FRAMES = 96, 64, 6
OBJECTS = {"red": 1, "blue": 2, "green": 7}  # the object's id in video 0001's numbering
COLOURS_BGR = {"red": (0, 0, 220), "blue": (220, 0, 0), "green": (0, 200, 0)}


def track_id(video: str, colour: str) -> int:
    """The global id of a video's object: 10 per video apart (0001: 1, 2; 0002: 11, 12, 17)."""
    return OBJECTS[colour] + 10 * (int(video) - 1)


def boxes_at(video: str, frame: int) -> dict[int, tuple[float, float, float, float]]:
    """xyxy pixels (exclusive edges) of every object at `frame`, by global id."""
    boxes = {
        "red": (4.0 + 4 * frame, 8.0, 24.0 + 4 * frame, 24.0),
        "blue": (56.0, 4.0 + 3 * frame, 72.0, 20.0 + 3 * frame),
    }
    if video == "0002" and frame >= 2:
        boxes["green"] = (30.0, 40.0, 46.0, 56.0)
    return {track_id(video, colour): box for colour, box in boxes.items()}


def expressions(video: str) -> dict[str, dict]:
    red, blue, green = (track_id(video, c) for c in ("red", "blue", "green"))
    items = {
        "the-red-car-on-the-left": ("the red car on the left", {f: [red] for f in range(FRAMES)}),
        "blue-cars": ("blue cars", {f: [blue] for f in range(1, 5)}),
    }
    if video == "0002":
        items["cars-turning-right"] = (
            "cars turning right",
            {f: [blue, green] if f >= 2 else [blue] for f in range(FRAMES)},
        )
    return {
        name: expression_json(label, [], video, sentence)
        for name, (sentence, label) in items.items()
    }


def write_tree(root: Path, videos: tuple[str, ...] = ("0001", "0002"), seqmap: bool = True) -> Path:
    tree = ReferKittiTree(root)
    for video in videos:
        images, labels = tree.image_folder(video), tree.label_folder(video)
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        colours = {track_id(video, c): bgr for c, bgr in COLOURS_BGR.items()}
        for frame in range(FRAMES):
            image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
            lines = []
            for track, (x1, y1, x2, y2) in boxes_at(video, frame).items():
                cv2.rectangle(
                    image, (int(x1), int(y1)), (int(x2) - 1, int(y2) - 1), colours[track], -1
                )
                normalised = xyxy_to_refer_kitti_x1y1wh_normalised([x1, y1, x2, y2], WIDTH, HEIGHT)
                lines.append(label_line(track, normalised[0]))
            cv2.imwrite(str(images / f"{frame_name(frame)}.png"), image)
            (labels / f"{frame_name(frame)}.txt").write_text("".join(lines))
        folder = tree.expression_folder(video)
        folder.mkdir(parents=True)
        for name, data in expressions(video).items():
            (folder / f"{name}.json").write_text(json.dumps(data))
    if seqmap:
        tree.train_list.write_text(train_list_text((videos[0], f) for f in range(FRAMES)))
        test = videos[-1]
        tree.seqmap.write_text(
            seqmap_text((sequence_name(test, name) for name in expressions(test)), header=False)
        )
    return root
