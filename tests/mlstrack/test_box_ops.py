from __future__ import annotations

import pytest
import torch

from mlstrack.box_ops import (
    box_cxcywh_to_xyxy,
    box_cxcywh_to_xyxy_pixels,
    box_iou_xyxy,
    box_xyxy_pixels_to_cxcywh,
    box_xyxy_to_cxcywh,
    generalized_box_iou_xyxy,
    inverse_sigmoid,
)


def test_cxcywh_xyxy_round_trip() -> None:
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.1, 0.9, 0.0, 0.1]])
    xyxy = box_cxcywh_to_xyxy(boxes)
    assert torch.allclose(xyxy[0], torch.tensor([0.4, 0.3, 0.6, 0.7]))
    assert torch.allclose(box_xyxy_to_cxcywh(xyxy), boxes)


def test_pixel_edge_conversion() -> None:
    # a box covering pixel columns 10..19 and rows 0..9 of a 100×50 image (edges exclusive)
    xyxy = torch.tensor([[10.0, 0.0, 20.0, 10.0]])
    cxcywh = box_xyxy_pixels_to_cxcywh(xyxy, (100, 50))
    assert torch.allclose(cxcywh, torch.tensor([[0.15, 0.1, 0.1, 0.2]]))
    assert torch.allclose(box_cxcywh_to_xyxy_pixels(cxcywh, (100, 50)), xyxy)


def test_iou_and_giou_hand_computed() -> None:
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [4.0, 0.0, 6.0, 2.0]])
    iou, union = box_iou_xyxy(a, b)
    assert torch.allclose(iou, torch.tensor([[1 / 7, 0.0]]))
    assert torch.allclose(union, torch.tensor([[7.0, 8.0]]))
    giou = generalized_box_iou_xyxy(a, b)
    # enclosing boxes: 3×3 = 9 and 6×2 = 12
    assert torch.allclose(giou, torch.tensor([[1 / 7 - 2 / 9, 0.0 - 4 / 12]]))
    assert torch.allclose(generalized_box_iou_xyxy(a, a), torch.ones(1, 1))


@pytest.mark.parametrize("n", [0, 3])
def test_pairwise_shapes_including_empty(n: int) -> None:
    boxes = box_cxcywh_to_xyxy(torch.rand(n, 4) * 0.5 + 0.25)
    assert generalized_box_iou_xyxy(boxes, boxes[:2]).shape == (n, min(n, 2))


def test_inverse_sigmoid() -> None:
    x = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(inverse_sigmoid(x).sigmoid(), x, atol=1e-5)
    assert torch.isfinite(inverse_sigmoid(torch.tensor([0.0, 1.0]))).all()
