"""Ground truth of one frame for one expression, as the matcher and criterion read it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class FrameTargets:
    """M objects of one frame.

    boxes_cxcywh: (M, 4) normalised boxes. ids: (M,) long track ids, unique.
    referred: (M,) float, 1 when the expression refers to the object in this frame.
    labels: (M,) long class indices (all 0 for RMOT's single class).
    """

    boxes_cxcywh: Tensor
    ids: Tensor
    referred: Tensor
    labels: Tensor | None = None

    def __post_init__(self) -> None:
        m = self.ids.shape[0]
        if self.boxes_cxcywh.shape != (m, 4):
            raise ValueError(f"boxes_cxcywh must be ({m}, 4), got {tuple(self.boxes_cxcywh.shape)}")
        if self.referred.shape != (m,):
            raise ValueError(f"referred must be ({m},)")
        if self.labels is None:
            object.__setattr__(
                self, "labels", torch.zeros(m, dtype=torch.long, device=self.ids.device)
            )
        if m and torch.unique(self.ids).numel() != m:
            raise ValueError("target ids must be unique within a frame")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def to(self, device: torch.device | str) -> FrameTargets:
        assert self.labels is not None
        return FrameTargets(
            self.boxes_cxcywh.to(device),
            self.ids.to(device),
            self.referred.to(device),
            self.labels.to(device),
        )
