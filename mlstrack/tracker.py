"""Online tracking: the per-frame bookkeeping that turns predictions into tracks and output.

`track_step` is a pure step: (model, image, sentence features, track state, tracker config) →
(next track state, this frame's result). With `TrackerConfig`'s thresholds, a detect query
scoring ≥ `new_track_score` (0.7) starts a track with a new id; a track scoring under
`drop_score` (0.6) counts a miss and is dropped after `miss_tolerance` (5) consecutive misses;
a live track seen this frame is output when its referring score reaches β_ref
(`refer_threshold`, 0.5) and its box covers at least `min_box_area` of the frame. The result
(`tracking_results.FrameResult`) holds every track seen this frame, with `referred` marking the
output ones, so that thresholds can be calibrated and diagnostics computed without tracking
again. Boxes are in the product's format: absolute `xyxy` pixels.

Adapted from MOTR's `RuntimeTrackerBase` and TransRMOT's inference filtering
(megvii-research/MOTR, models/motr.py; wudongming97/RMOT, inference.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mlstrack.box_ops import box_cxcywh_to_xyxy_pixels
from mlstrack.model import MLSTrack
from mlstrack.query_interaction import advance_tracks
from mlstrack.text_encoders import TextFeatures
from mlstrack.track_state import TrackState
from mlstrack.tracker_config import TrackerConfig
from mlstrack.tracking_results import FrameResult


def select_tracks(
    outputs: dict, track: TrackState, tracker: TrackerConfig
) -> tuple[Tensor, Tensor, Tensor, int, Tensor]:
    """Which main queries live on: (keep indices, ids, misses, next_id, visible mask over keep).

    Track queries come first in `keep` (in the state's order), then new tracks by query index.
    """
    num_detect = outputs["num_detect"]
    scores = outputs["pred_logits"][0].sigmoid().max(-1).values  # (N,)
    device = scores.device
    track_scores = scores[num_detect:]
    misses = torch.where(
        track_scores < tracker.drop_score, track.misses + 1, torch.zeros_like(track.misses)
    )
    alive = misses < tracker.miss_tolerance
    new = torch.nonzero(scores[:num_detect] >= tracker.new_track_score).flatten()
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
    tracker: TrackerConfig,
    features: list[Tensor] | None = None,
) -> tuple[TrackState, FrameResult]:
    """One frame of online tracking with `tracker`'s thresholds. `image` is (1, 3, H, W) in
    [0, 1]; `features` its `model.visual_features` when they are shared between several
    expressions."""
    if track is None:
        track = TrackState.empty(model.config.d_model, image.device)
    outputs = model(image, text, track, features)
    keep, ids, misses, next_id, visible = select_tracks(outputs, track, tracker)
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
    result = seen.rethreshold(tracker.refer_threshold, tracker.min_box_area, float(width * height))
    return next_track, result
