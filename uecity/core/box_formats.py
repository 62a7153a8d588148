"""Box format conversions at the product's edges, each named by its source and target format.

Inside the product a box is absolute pixels, `xyxy`, float, with exclusive right/bottom edges
(DESIGN.md). Refer-KITTI label files want a normalised top-left corner and size; MOTChallenge
files want absolute top-left corner and size; the model wants normalised centre and size.
Every function takes and returns `(N, 4)` float64 arrays (a single box `(4,)` works too).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoxArray = npt.NDArray[np.float64]


def _as_boxes(boxes: npt.ArrayLike) -> BoxArray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def xyxy_to_mot_xywh(xyxy: npt.ArrayLike) -> BoxArray:
    """Absolute `xyxy` (exclusive edges) → MOTChallenge `x, y, w, h` in pixels."""
    boxes = _as_boxes(xyxy)
    return np.stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1
    )


def mot_xywh_to_xyxy(xywh: npt.ArrayLike) -> BoxArray:
    """MOTChallenge `x, y, w, h` in pixels → absolute `xyxy` (exclusive edges)."""
    boxes = _as_boxes(xywh)
    return np.stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]], axis=1
    )


def xyxy_to_refer_kitti_x1y1wh_normalised(xyxy: npt.ArrayLike, width: int, height: int) -> BoxArray:
    """Absolute `xyxy` → Refer-KITTI's `x1/W, y1/H, w/W, h/H` (top-left corner and size)."""
    xywh = xyxy_to_mot_xywh(xyxy)
    return xywh / np.array([width, height, width, height], dtype=np.float64)


def refer_kitti_x1y1wh_normalised_to_xyxy(
    x1y1wh: npt.ArrayLike, width: int, height: int
) -> BoxArray:
    """Refer-KITTI's normalised `x1, y1, w, h` → absolute `xyxy`."""
    xywh = _as_boxes(x1y1wh) * np.array([width, height, width, height], dtype=np.float64)
    return mot_xywh_to_xyxy(xywh)


def xyxy_to_cxcywh_normalised(xyxy: npt.ArrayLike, width: int, height: int) -> BoxArray:
    """Absolute `xyxy` → normalised centre and size in [0, 1] (the model's format)."""
    boxes = _as_boxes(xyxy)
    scale = np.array([width, height, width, height], dtype=np.float64)
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    size_w = boxes[:, 2] - boxes[:, 0]
    size_h = boxes[:, 3] - boxes[:, 1]
    return np.stack([centre_x, centre_y, size_w, size_h], axis=1) / scale


def cxcywh_normalised_to_xyxy(cxcywh: npt.ArrayLike, width: int, height: int) -> BoxArray:
    """Normalised centre and size → absolute `xyxy`."""
    boxes = _as_boxes(cxcywh) * np.array([width, height, width, height], dtype=np.float64)
    half_w, half_h = boxes[:, 2] / 2, boxes[:, 3] / 2
    return np.stack(
        [boxes[:, 0] - half_w, boxes[:, 1] - half_h, boxes[:, 0] + half_w, boxes[:, 1] + half_h],
        axis=1,
    )
