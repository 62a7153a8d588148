"""Training's track update with TransRMOT's rules: the IoU gate, random drops, false positives.

Adapted from TransRMOT's / MOTR's `QueryInteractionModule._select_active_tracks` (models/qim.py).
After a frame, a query paired with an object carries that object's id into the next frame
(MOTR's identity-kept assignment) only when its box overlaps the object's by IoU > 0.5 (a
pairing the model has not learned yet does not become a track). Each such track is dropped
with probability `drop_prob`, so the model learns to pick an object up again from a detect
query. Then, for **each** remaining track with probability `fp_prob`, the unpaired query whose
box overlaps that track's box most joins as a false-positive track (duplicates counted once;
when there are at least as many picks as unpaired queries, all of them join). A false-positive
track carries id -1 (TransRMOT's `obj_idxes == -1`): next frame it is one of the queries the
Hungarian matcher may give a new object, else it is supervised as "no object", so the model
learns to let duplicate and drifting tracks die.

With `drifted_as_false_positives` (not in TransRMOT) a paired query under the IoU gate does not
vanish but joins as a false-positive track too: its object is then untracked in the next frame,
so the drifted query either picks it up again (the matcher may give it the object) or learns to
die while a detect query takes the object over. In 2-frame clips this is the only way a track
off its object occurs in training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mlstrack.box_ops import box_cxcywh_to_xyxy, box_iou_xyxy
from mlstrack.criterion import Assignment
from mlstrack.query_interaction import QueryInteraction, advance_tracks
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState

FALSE_POSITIVE_ID = -1  # TransRMOT's obj_idxes of an unassigned query; no object carries it
TRACK_IOU_GATE = 0.5  # a paired query becomes a training track above this IoU (MOTR, TransRMOT)


def paired_ious(outputs: dict, targets: FrameTargets, assignment: Assignment) -> Tensor:
    """IoU of each paired query's box with its object's box, (K,) in the assignment's order."""
    boxes = outputs["pred_boxes"][0, assignment.query_index].detach()
    target_boxes = targets.boxes_cxcywh[assignment.target_index]
    if len(boxes) == 0:
        return boxes.new_zeros(0)
    iou, _ = box_iou_xyxy(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(target_boxes))
    return torch.diag(iou)


def false_positive_queries(
    outputs: dict, active: Tensor, inactive: Tensor, rng: np.random.Generator, fp_prob: float
) -> Tensor:
    """Indices of the unpaired queries (`inactive`) that join as false-positive tracks: for each
    active track picked with probability `fp_prob`, the inactive query of highest IoU with it."""
    if fp_prob <= 0 or len(active) == 0 or len(inactive) == 0:
        return inactive[:0]
    picked = active[torch.from_numpy(rng.random(len(active)) < fp_prob).to(active.device)]
    if len(picked) == 0:
        return inactive[:0]
    if len(picked) >= len(inactive):
        return inactive
    boxes = box_cxcywh_to_xyxy(outputs["pred_boxes"][0].detach())
    ious, _ = box_iou_xyxy(boxes[inactive], boxes[picked])  # (inactive, picked)
    return inactive[torch.unique(ious.max(dim=0).indices)]


def noisy_training_tracks(
    qim: QueryInteraction,
    outputs: dict,
    targets: FrameTargets,
    assignment: Assignment,
    track: TrackState,
    rng: np.random.Generator,
    drop_prob: float,
    fp_prob: float,
    iou_gate: float = TRACK_IOU_GATE,
    drifted_as_false_positives: bool = False,
) -> TrackState:
    """The next frame's tracks: paired queries above the IoU gate (minus random drops) plus the
    false positives (and the pairs under the gate, with `drifted_as_false_positives`). With both
    probabilities 0 and gate 0 this is `criterion.next_training_tracks`."""
    order = torch.argsort(assignment.query_index)
    ordered = Assignment(assignment.query_index[order], assignment.target_index[order])
    keep = ordered.query_index
    ids = targets.ids[ordered.target_index]
    gated = paired_ious(outputs, targets, ordered) > iou_gate
    drifted = keep[~gated] if drifted_as_false_positives else keep[:0]
    keep, ids = keep[gated], ids[gated]
    if drop_prob > 0 and len(keep):
        survive = torch.from_numpy(rng.random(len(keep)) >= drop_prob).to(keep.device)
        keep, ids = keep[survive], ids[survive]
    next_id = max(track.next_id, int(targets.ids.max()) + 1 if len(targets) else 0)
    num_main = outputs["pred_boxes"].shape[1]
    unpaired = torch.ones(num_main, dtype=torch.bool, device=keep.device)
    unpaired[assignment.query_index] = False
    inactive = torch.nonzero(unpaired).flatten()
    fp = torch.cat((drifted, false_positive_queries(outputs, keep, inactive, rng, fp_prob)))
    keep = torch.cat((keep, fp))
    ids = torch.cat((ids, torch.full((len(fp),), FALSE_POSITIVE_ID, dtype=ids.dtype)))
    misses = torch.zeros_like(ids)
    return advance_tracks(qim, outputs, keep, ids, misses, next_id)
