"""Box conversions and overlaps of the model: boxes inside the model are `cxcywh` in [0, 1].

Conversions to the product's absolute `xyxy` pixels happen only at the model's edge
(`box_cxcywh_to_xyxy_pixels`); every function names the formats it reads and writes.

Adapted from DETR's util/box_ops.py (facebookresearch/detr): `box_iou`, `generalized_box_iou`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(..., 4) centre/size boxes to corner boxes, same units."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def box_xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """(..., 4) corner boxes to centre/size boxes, same units."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_cxcywh_to_xyxy_pixels(boxes: Tensor, image_wh: tuple[int, int]) -> Tensor:
    """Normalised (..., 4) `cxcywh` to absolute `xyxy` pixels of an image `(width, height)`."""
    width, height = image_wh
    scale = boxes.new_tensor([width, height, width, height])
    return box_cxcywh_to_xyxy(boxes) * scale


def box_xyxy_pixels_to_cxcywh(boxes: Tensor, image_wh: tuple[int, int]) -> Tensor:
    """Absolute `xyxy` pixels of an image `(width, height)` to normalised `cxcywh`."""
    width, height = image_wh
    scale = boxes.new_tensor([width, height, width, height])
    return box_xyxy_to_cxcywh(boxes / scale)


def box_area_xyxy(boxes: Tensor) -> Tensor:
    """(N, 4) `xyxy` boxes to (N,) areas (degenerate boxes give 0)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou_xyxy(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise IoU (N, M) of `xyxy` boxes, and the union (N, M) it divided by."""
    area1 = box_area_xyxy(boxes1)  # (N,)
    area2 = box_area_xyxy(boxes2)  # (M,)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / union.clamp(min=1e-9), union


def generalized_box_iou_xyxy(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise generalised IoU (N, M) of `xyxy` boxes, in [-1, 1]."""
    iou, union = box_iou_xyxy(boxes1, boxes2)
    top_left = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2)
    enclosing = wh[..., 0] * wh[..., 1]
    return iou - (enclosing - union) / enclosing.clamp(min=1e-9)


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """logit(x) with x clamped away from 0 and 1, for refining boxes in logit space."""
    x = x.clamp(min=0.0, max=1.0)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))
