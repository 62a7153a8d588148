"""The tracking state of one video: a value passed into and out of every per-frame step.

It holds, per live track, the query (position embedding and content feature) that will look for
the object in the next frame, its last box, identity, scores and missed-frame count. Nothing of
it lives on a module, so several videos can be tracked with one model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TrackState:
    """Parallel per-track tensors (N tracks) plus the next free identity.

    query_pos, query_feat: (N, d) the track queries of the next frame.
    boxes_cxcywh: (N, 4) last boxes, normalised, the next frame's reference boxes.
    ids: (N,) long track identities (≥ 0, unique), or -1 for training's false-positive
        tracks (TransRMOT's unassigned queries carried into the next frame; never at inference).
    scores, refer_scores: (N,) last class and referring probabilities.
    misses: (N,) long consecutive frames scored under the drop threshold.
    next_id: the identity the next new track gets.
    """

    query_pos: Tensor
    query_feat: Tensor
    boxes_cxcywh: Tensor
    ids: Tensor
    scores: Tensor
    refer_scores: Tensor
    misses: Tensor
    next_id: int = 0

    def __post_init__(self) -> None:
        n = self.ids.shape[0]
        for name in ("query_pos", "query_feat", "boxes_cxcywh", "scores", "refer_scores", "misses"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(
                    f"TrackState.{name} has {getattr(self, name).shape[0]} rows, ids has {n}"
                )
        if self.query_pos.shape != self.query_feat.shape:
            raise ValueError("query_pos and query_feat must have the same shape")
        if self.boxes_cxcywh.dim() != 2 or self.boxes_cxcywh.shape[-1] != 4:
            raise ValueError("boxes_cxcywh must be (N, 4)")
        if n and int(self.ids.min()) < -1:
            raise ValueError("track ids must be >= 0 (or -1 for a false-positive track)")
        if n and int(self.ids.max()) >= self.next_id:
            raise ValueError("next_id must be larger than every track id")

    @classmethod
    def empty(cls, d_model: int, device: torch.device | str = "cpu") -> TrackState:
        """No tracks yet (the first frame of a video)."""
        zeros = torch.zeros(0, d_model, device=device)
        return cls(
            query_pos=zeros,
            query_feat=zeros.clone(),
            boxes_cxcywh=torch.zeros(0, 4, device=device),
            ids=torch.zeros(0, dtype=torch.long, device=device),
            scores=torch.zeros(0, device=device),
            refer_scores=torch.zeros(0, device=device),
            misses=torch.zeros(0, dtype=torch.long, device=device),
            next_id=0,
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def select(self, index: Tensor) -> TrackState:
        """The tracks at `index` (a long index or bool mask), same next_id."""
        return TrackState(
            self.query_pos[index],
            self.query_feat[index],
            self.boxes_cxcywh[index],
            self.ids[index],
            self.scores[index],
            self.refer_scores[index],
            self.misses[index],
            self.next_id,
        )
