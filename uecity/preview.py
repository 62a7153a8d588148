"""A contact sheet of a dataset: sampled frames with their boxes, track ids and labels.

For a person to look at what `uecity generate` made: each tile is one frame with every box
drawn in its track's colour and labelled `id type colour` plus the track's motion labels at
that frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from uecity.boxes import VideoBoxes
from uecity.core.atomic import atomic_path
from uecity.core.errors import DatasetError
from uecity.dataset import Dataset


def _track_colour(track_id: int) -> tuple[int, int, int]:
    hue = (track_id * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].tolist()
    return (b, g, r)


def render_tile(
    image: np.ndarray,
    boxes: VideoBoxes,
    labels: dict[int, str],
    scale: float,
    max_labels: int = 40,
) -> np.ndarray:
    """One frame with its boxes drawn, resized by `scale`."""
    tile = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    order = np.argsort(-boxes.xyxy[:, 3])  # the nearest (lowest) boxes last, on top
    for k, i in enumerate(order):
        tid = int(boxes.track_id[i])
        x1, y1, x2, y2 = (boxes.xyxy[i] * scale).tolist()
        colour = _track_colour(tid)
        cv2.rectangle(
            tile,
            (int(x1), int(y1)),
            (max(int(x2) - 1, int(x1)), max(int(y2) - 1, int(y1))),
            colour,
            1,
        )
        if k < max_labels:
            text = labels.get(tid, str(tid))
            y = max(int(y1) - 3, 9)
            cv2.putText(
                tile, text, (int(x1), y), cv2.FONT_HERSHEY_SIMPLEX, 0.32, (0, 0, 0), 2, cv2.LINE_AA
            )
            cv2.putText(
                tile, text, (int(x1), y), cv2.FONT_HERSHEY_SIMPLEX, 0.32, colour, 1, cv2.LINE_AA
            )
    return tile


def contact_sheet(
    root: Path, out: Path, *, tiles: int = 6, columns: int = 2, tile_width: int = 960
) -> Path:
    """Write a PNG contact sheet of `tiles` frames spread over the dataset's videos."""
    dataset = Dataset.open(root)
    if not dataset.videos:
        raise DatasetError("the dataset has no videos", path=root)
    picks: list[tuple[str, int]] = []
    per_video = max(1, math.ceil(tiles / len(dataset.videos)))
    for vid in dataset.videos:
        n = dataset.video(vid).info.num_frames
        for k in range(per_video):
            picks.append((vid, int((k + 0.5) * n / per_video)))
    picks = picks[:tiles]
    images = []
    for vid, index in picks:
        video = dataset.video(vid)
        objects = {o.track_id: o for o in video.objects()}
        motion = video.motion().intervals
        boxes = video.boxes().of_frame(index)
        image_path = video.frame_path(index)
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError("cannot read frame image", path=image_path)
        labels = {}
        for tid in boxes.track_id.tolist():
            o = objects.get(tid)
            words = [str(tid)]
            if o is not None:
                words += [o.colour_name or "", o.type]
            words += [
                m.label
                for m in motion
                if m.track_id == tid
                and m.start <= index <= m.end
                and m.label
                in (
                    "moving",
                    "stopped",
                    "parked",
                    "turning left",
                    "turning right",
                    "going straight",
                    "crossing the road",
                )
            ]
            labels[tid] = " ".join(w for w in words if w)
        scale = tile_width / image.shape[1]
        tile = render_tile(image, boxes, labels, scale)
        cv2.putText(
            tile,
            f"{vid} frame {index}",
            (6, 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.55,
            (255, 255, 255),
            2,
            cv2.LINE_AA,
        )
        images.append(tile)
    h, w = images[0].shape[:2]
    rows = math.ceil(len(images) / columns)
    sheet = np.zeros((rows * h, min(columns, len(images)) * w, 3), np.uint8)
    for k, tile in enumerate(images):
        r, c = divmod(k, columns)
        sheet[r * h : r * h + tile.shape[0], c * w : c * w + tile.shape[1]] = tile
    ok, data = cv2.imencode(".png", sheet)
    if not ok:  # pragma: no cover
        raise DatasetError("could not encode the contact sheet", path=out)
    with atomic_path(out, durable=False) as temporary:
        temporary.write_bytes(data.tobytes())
    return out
