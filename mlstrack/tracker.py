"""Online tracking: the per-frame bookkeeping that turns predictions into tracks and output.

`track_step` is a pure step: (model, image, sentence features, track state) → (next track state,
this frame's result). A detect query scoring ≥ `new_track_score` (0.7) starts a track with a new
id; a track scoring under `drop_score` (0.6) counts a miss and is dropped after `miss_tolerance`
(5) consecutive misses; a live track seen this frame is output when its referring score reaches
β_ref (`refer_threshold`, 0.5) and its box covers at least `min_box_area` of the frame. The
result holds every track seen this frame, with `referred` marking the output ones, so that
thresholds can be calibrated and diagnostics computed without tracking again. Boxes are in the
product's format: absolute `xyxy` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mlstrack.box_ops import box_cxcywh_to_xyxy_pixels
from mlstrack.config import MLSTrackConfig
from mlstrack.model import MLSTrack
from mlstrack.query_interaction import advance_tracks
from mlstrack.text_encoders import TextFeatures
from mlstrack.track_state import TrackState


@dataclass(frozen=True)
class FrameResult:
    """The tracks seen in one frame: parallel arrays of K rows.

    ids (K,) int64; boxes_xyxy (K, 4) float32 absolute pixels; scores and refer_scores (K,);
    referred (K,) bool: the tracks output for the sentence (β_ref and the area filter passed).
    """

    ids: np.ndarray
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    refer_scores: np.ndarray
    referred: np.ndarray

    def __post_init__(self) -> None:
        k = self.ids.shape[0]
        if self.boxes_xyxy.shape != (k, 4):
            raise ValueError(f"boxes_xyxy must be ({k}, 4), got {self.boxes_xyxy.shape}")
        if self.scores.shape != (k,) or self.refer_scores.shape != (k,):
            raise ValueError("scores and refer_scores must have one value per id")
        if self.referred.shape != (k,) or self.referred.dtype != np.bool_:
            raise ValueError("referred must be a bool array with one value per id")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def select(self, mask: np.ndarray) -> FrameResult:
        """The rows where `mask` is true."""
        return FrameResult(
            self.ids[mask],
            self.boxes_xyxy[mask],
            self.scores[mask],
            self.refer_scores[mask],
            self.referred[mask],
        )

    def output(self) -> FrameResult:
        """Only the referred (output) tracks."""
        return self.select(self.referred)

    def rethreshold(
        self, refer_threshold: float, min_area: float, frame_area: float
    ) -> FrameResult:
        """The same tracks with `referred` decided again for other output thresholds
        (`min_area` a share of `frame_area`, both in the boxes' pixels)."""
        areas = box_areas(self.boxes_xyxy)
        referred = (self.refer_scores >= refer_threshold) & (areas >= min_area * frame_area)
        return FrameResult(self.ids, self.boxes_xyxy, self.scores, self.refer_scores, referred)


def box_areas(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(K,) areas of (K, 4) xyxy boxes, 0 for empty ones."""
    wh = np.clip(boxes_xyxy[:, 2:4] - boxes_xyxy[:, 0:2], 0, None)
    return wh[:, 0] * wh[:, 1]


def select_tracks(
    outputs: dict, track: TrackState, config: MLSTrackConfig
) -> tuple[Tensor, Tensor, Tensor, int, Tensor]:
    """Which main queries live on: (keep indices, ids, misses, next_id, visible mask over keep).

    Track queries come first in `keep` (in the state's order), then new tracks by query index.
    """
    num_detect = outputs["num_detect"]
    scores = outputs["pred_logits"][0].sigmoid().max(-1).values  # (N,)
    device = scores.device
    track_scores = scores[num_detect:]
    misses = torch.where(
        track_scores < config.drop_score, track.misses + 1, torch.zeros_like(track.misses)
    )
    alive = misses < config.miss_tolerance
    new = torch.nonzero(scores[:num_detect] >= config.new_track_score).flatten()
    new_ids = torch.arange(track.next_id, track.next_id + len(new), device=device)
    keep = torch.cat((num_detect + torch.nonzero(alive).flatten(), new))
    ids = torch.cat((track.ids[alive], new_ids))
    all_misses = torch.cat((misses[alive], torch.zeros_like(new_ids)))
    visible = all_misses == 0
    return keep, ids, all_misses, track.next_id + len(new), visible


@torch.no_grad()
def track_step(
    model: MLSTrack,
    image: Tensor,
    text: TextFeatures,
    track: TrackState | None,
    features: list[Tensor] | None = None,
) -> tuple[TrackState, FrameResult]:
    """One frame of online tracking. `image` is (1, 3, H, W) in [0, 1]; `features` its
    `model.visual_features` when they are shared between several expressions."""
    config = model.config
    if track is None:
        track = TrackState.empty(config.d_model, image.device)
    outputs = model(image, text, track, features)
    keep, ids, misses, next_id, visible = select_tracks(outputs, track, config)
    next_track = advance_tracks(model.query_interaction, outputs, keep, ids, misses, next_id)
    height, width = image.shape[-2:]
    refer = outputs["pred_refers"][0, keep, 0].sigmoid()
    scores = outputs["pred_logits"][0, keep].sigmoid().max(-1).values
    boxes = box_cxcywh_to_xyxy_pixels(outputs["pred_boxes"][0, keep][visible], (width, height))
    seen = FrameResult(
        ids=ids[visible].cpu().numpy().astype(np.int64),
        boxes_xyxy=boxes.cpu().float().numpy().reshape(-1, 4),
        scores=scores[visible].cpu().float().numpy(),
        refer_scores=refer[visible].cpu().float().numpy(),
        referred=np.zeros(int(visible.sum()), dtype=bool),
    )
    result = seen.rethreshold(config.refer_threshold, config.min_box_area, float(width * height))
    return next_track, result
