"""Training's track update with TransRMOT's noise: random track-query drops and false positives.

After a frame, every query paired with an object carries that object's id into the next frame
(MOTR's identity-kept assignment). Each such track is dropped with probability `drop_prob`, so
the model learns to pick an object up again from a detect query; with probability `fp_prob` the
best-scoring unpaired detect query becomes a track too, with an id no ground truth carries, so
the next frame supervises it as "no object" and the model learns to let false tracks die.
"""

from __future__ import annotations

import numpy as np
import torch

from mlstrack.criterion import Assignment
from mlstrack.query_interaction import QueryInteraction, advance_tracks
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState

FALSE_POSITIVE_ID_BASE = 1_000_000  # above any real track id of a video


def noisy_training_tracks(
    qim: QueryInteraction,
    outputs: dict,
    targets: FrameTargets,
    assignment: Assignment,
    track: TrackState,
    rng: np.random.Generator,
    drop_prob: float,
    fp_prob: float,
) -> TrackState:
    """The next frame's tracks: paired queries (minus random drops) plus maybe one false
    positive. With both probabilities 0 this is `criterion.next_training_tracks`."""
    order = torch.argsort(assignment.query_index)
    keep = assignment.query_index[order]
    ids = targets.ids[assignment.target_index[order]]
    if drop_prob > 0 and len(keep):
        survive = torch.from_numpy(rng.random(len(keep)) >= drop_prob).to(keep.device)
        keep, ids = keep[survive], ids[survive]
    next_id = max(track.next_id, int(targets.ids.max()) + 1 if len(targets) else 0)
    if fp_prob > 0 and rng.random() < fp_prob:
        num_detect = outputs["num_detect"]
        paired = set(assignment.query_index.tolist())
        scores = outputs["pred_logits"][0, :num_detect].detach().sigmoid().max(-1).values
        free = [q for q in torch.argsort(scores, descending=True).tolist() if q not in paired]
        if free:
            fp_id = max(next_id, FALSE_POSITIVE_ID_BASE)
            keep = torch.cat((keep, torch.tensor([free[0]], device=keep.device)))
            ids = torch.cat((ids, torch.tensor([fp_id], device=ids.device)))
            next_id = fp_id + 1
    misses = torch.zeros_like(ids)
    return advance_tracks(qim, outputs, keep, ids, misses, next_id)
