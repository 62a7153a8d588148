"""Hungarian matching of detect queries to the objects no track query already follows.

Adapted from DETR's `HungarianMatcher` (facebookresearch/detr, models/matcher.py) with
Deformable-DETR's focal class cost, and MOTR's per-frame `ClipMatcher` assignment
(megvii-research/MOTR, models/motr.py).
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from mlstrack.box_ops import box_cxcywh_to_xyxy, generalized_box_iou_xyxy


class HungarianMatcher:
    """One-to-one assignment minimising cost_class·focal + cost_bbox·L1 − cost_giou·GIoU
    (Deformable-DETR's costs; TransRMOT's weights 2 / 5 / 2)."""

    def __init__(
        self,
        cost_class: float = 2.0,
        cost_bbox: float = 5.0,
        cost_giou: float = 2.0,
        alpha: float = 0.25,
        gamma: float = 2.0,
    ) -> None:
        if cost_class == cost_bbox == cost_giou == 0:
            raise ValueError("at least one matching cost must be non-zero")
        self.cost_class = cost_class
        self.cost_bbox = cost_bbox
        self.cost_giou = cost_giou
        self.alpha = alpha
        self.gamma = gamma

    def cost_matrix(
        self, logits: Tensor, boxes_cxcywh: Tensor, labels: Tensor, target_boxes_cxcywh: Tensor
    ) -> Tensor:
        """(Q, M) costs of query q taking object m."""
        prob = logits.sigmoid()  # (Q, C)
        negative = (1 - self.alpha) * prob**self.gamma * -(1 - prob + 1e-8).log()
        positive = self.alpha * (1 - prob) ** self.gamma * -(prob + 1e-8).log()
        cost_class = positive[:, labels] - negative[:, labels]  # (Q, M)
        cost_bbox = torch.cdist(boxes_cxcywh, target_boxes_cxcywh, p=1)  # (Q, M)
        cost_giou = -generalized_box_iou_xyxy(
            box_cxcywh_to_xyxy(boxes_cxcywh), box_cxcywh_to_xyxy(target_boxes_cxcywh)
        )
        return (
            self.cost_class * cost_class + self.cost_bbox * cost_bbox + self.cost_giou * cost_giou
        )

    @torch.no_grad()
    def __call__(
        self, logits: Tensor, boxes_cxcywh: Tensor, labels: Tensor, target_boxes_cxcywh: Tensor
    ) -> tuple[Tensor, Tensor]:
        """logits (Q, C), boxes (Q, 4), labels (M,), target boxes (M, 4) → (query indices,
        target indices), each (min(Q, M),) long, sorted by query."""
        device = logits.device
        if logits.shape[0] == 0 or labels.shape[0] == 0:
            empty = torch.zeros(0, dtype=torch.long, device=device)
            return empty, empty.clone()
        cost = self.cost_matrix(
            logits.float(), boxes_cxcywh.float(), labels, target_boxes_cxcywh.float()
        )
        rows, cols = linear_sum_assignment(cost.cpu().numpy())
        return (
            torch.as_tensor(rows, dtype=torch.long, device=device),
            torch.as_tensor(cols, dtype=torch.long, device=device),
        )
