"""The training losses of one frame: a dict of named losses, weights kept apart in `weight_dict`.

Assignment (MOTR's, TransRMOT's `ClipMatcher.match_for_single_frame`): a track query keeps the
identity it tracks, so it is paired with the object of that id if the object is in the frame
(else it must say "no object"); the objects no track query follows are Hungarian-matched to the
unassigned queries: the detect queries and the false-positive track queries (id < 0, TransRMOT's
`obj_idxes == -1`). Losses: sigmoid focal class loss over all queries, L1 and GIoU on paired
boxes, sigmoid focal referring loss on the paired queries only (TransRMOT's `loss_refers`: the
target is 1 for a paired object the expression refers to; unpaired queries are left to the class
loss). Earlier decoder layers add the same losses with suffix `_<layer>`; the track-query
denoising groups add `_dn`. The losses are sums divided by `normaliser`; TransRMOT divides a
whole clip's sums by its objects plus its disappeared tracks (`clip_normaliser`).
`next_training_tracks` turns the paired queries into the next frame's tracks.

Adapted from DETR's `SetCriterion` (facebookresearch/detr, models/detr.py), Deformable-DETR's
`sigmoid_focal_loss` (models/segmentation.py) and TransRMOT's `ClipMatcher` (wudongming97/RMOT,
models/transrmot.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlstrack.box_ops import box_cxcywh_to_xyxy, generalized_box_iou_xyxy
from mlstrack.config import MLSTrackConfig
from mlstrack.matcher import HungarianMatcher
from mlstrack.query_interaction import QueryInteraction, advance_tracks
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState

LOSS_NAMES = ("loss_ce", "loss_bbox", "loss_giou", "loss_refer")


@dataclass(frozen=True)
class Assignment:
    """Pairs (query_index[k], target_index[k]) of one prediction set, query indices into the
    main queries (detect first, then track)."""

    query_index: Tensor
    target_index: Tensor


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Element-wise sigmoid focal loss (RetinaNet), same shape as `logits`."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


class SetCriterion(nn.Module):
    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        self.config = config
        self.matcher = HungarianMatcher(
            config.cost_class,
            config.cost_bbox,
            config.cost_giou,
            config.focal_alpha,
            config.focal_gamma,
        )
        base = {
            "loss_ce": config.loss_class,
            "loss_bbox": config.loss_bbox,
            "loss_giou": config.loss_giou,
            "loss_refer": config.loss_refer,
        }
        weights = dict(base)
        if config.aux_loss:
            for layer in range(config.num_decoder_layers - 1):
                weights.update({f"{k}_{layer}": v for k, v in base.items()})
        if config.track_group_denoising:
            weights.update({f"{k}_dn": v * config.denoising_loss_weight for k, v in base.items()})
        self.weight_dict = weights

    # --- assignment -----------------------------------------------------------------------
    def assign(self, outputs: dict, targets: FrameTargets, track_ids: Tensor) -> Assignment:
        """Identity-kept pairs for the track queries, Hungarian pairs for the unassigned ones
        (detect queries and false-positive tracks, id < 0)."""
        num_detect = outputs["num_detect"]
        device = outputs["pred_logits"].device
        target_ids = targets.ids.tolist()
        position = {obj: index for index, obj in enumerate(target_ids)}
        track_query, track_target = [], []
        free = list(range(num_detect))
        for offset, obj in enumerate(track_ids.tolist()):
            if obj in position:
                track_query.append(num_detect + offset)
                track_target.append(position[obj])
            elif obj < 0:
                free.append(num_detect + offset)
        followed = set(track_target)
        new = torch.tensor(
            [i for i in range(len(target_ids)) if i not in followed],
            dtype=torch.long,
            device=device,
        )
        assert targets.labels is not None
        pool = torch.tensor(free, dtype=torch.long, device=device)
        det_query, det_target = self.matcher(
            outputs["pred_logits"][0, pool],
            outputs["pred_boxes"][0, pool],
            targets.labels[new],
            targets.boxes_cxcywh[new],
        )
        query = torch.cat(
            (pool[det_query], torch.tensor(track_query, dtype=torch.long, device=device))
        )
        target = torch.cat(
            (new[det_target], torch.tensor(track_target, dtype=torch.long, device=device))
        )
        return Assignment(query, target)

    # --- losses ---------------------------------------------------------------------------
    def forward(
        self,
        outputs: dict,
        targets: FrameTargets,
        track_ids: Tensor,
        assignment: Assignment | None = None,
        normaliser: float | None = None,
    ) -> dict[str, Tensor]:
        """Named losses (unweighted) of the last layer, aux layers and denoising groups, each a
        sum divided by `normaliser` (default: this frame's objects plus disappeared tracks)."""
        if assignment is None:
            assignment = self.assign(outputs, targets, track_ids)
        num_boxes = (
            normaliser if normaliser is not None else clip_normaliser([targets], [track_ids])
        )
        losses = self._set_losses(outputs, targets, assignment, num_boxes)
        for layer, aux in enumerate(outputs.get("aux_outputs", [])):
            aux_assignment = self.assign(aux, targets, track_ids)
            for name, value in self._set_losses(aux, targets, aux_assignment, num_boxes).items():
                losses[f"{name}_{layer}"] = value
        groups = outputs.get("denoising", [])
        if groups:
            # each group copies the track queries: keep their pairs, shifted to group indices
            is_track = assignment.query_index >= outputs["num_detect"]
            dn_assignment = Assignment(
                assignment.query_index[is_track] - outputs["num_detect"],
                assignment.target_index[is_track],
            )
            sums: dict[str, Tensor] = {}
            for group in groups:
                for name, value in self._set_losses(
                    group, targets, dn_assignment, num_boxes
                ).items():
                    sums[name] = sums.get(name, 0) + value / len(groups)
            losses.update({f"{name}_dn": value for name, value in sums.items()})
        return losses

    def total(self, losses: dict[str, Tensor]) -> Tensor:
        """Σ weight · loss over the losses named in `weight_dict`."""
        return sum(
            losses[name] * weight for name, weight in self.weight_dict.items() if name in losses
        )  # type: ignore[return-value]

    def _set_losses(
        self, prediction: dict, targets: FrameTargets, assignment: Assignment, num_boxes: int
    ) -> dict[str, Tensor]:
        config = self.config
        logits = prediction["pred_logits"][0]  # (N, C)
        refers = prediction["pred_refers"][0, :, 0]  # (N,)
        query, target = assignment.query_index, assignment.target_index
        assert targets.labels is not None
        class_target = torch.zeros_like(logits)
        class_target[query, targets.labels[target]] = 1.0
        refer_target = targets.referred[target].to(refers.dtype)
        alpha, gamma = config.focal_alpha, config.focal_gamma
        loss_ce = sigmoid_focal_loss(logits, class_target, alpha, gamma).sum() / num_boxes
        loss_refer = sigmoid_focal_loss(refers[query], refer_target, alpha, gamma).sum() / num_boxes
        boxes = prediction["pred_boxes"][0, query]  # (K, 4)
        target_boxes = targets.boxes_cxcywh[target]  # (K, 4)
        loss_bbox = F.l1_loss(boxes, target_boxes, reduction="sum") / num_boxes
        giou = generalized_box_iou_xyxy(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(target_boxes))
        loss_giou = (1 - torch.diag(giou)).sum() / num_boxes
        return {
            "loss_ce": loss_ce,
            "loss_bbox": loss_bbox,
            "loss_giou": loss_giou,
            "loss_refer": loss_refer,
        }


def disappeared_tracks(targets: FrameTargets, track_ids: Tensor) -> int:
    """Track queries of real objects (id ≥ 0) whose object is not in this frame."""
    present = set(targets.ids.tolist())
    return sum(1 for obj in track_ids.tolist() if obj >= 0 and obj not in present)


def clip_normaliser(frames: list[FrameTargets], track_ids: list[Tensor]) -> float:
    """TransRMOT's `num_samples`: Σ over a clip's frames of its objects plus its disappeared
    tracks (at least 1)."""
    total = sum(
        len(targets) + disappeared_tracks(targets, ids)
        for targets, ids in zip(frames, track_ids, strict=True)
    )
    return float(max(total, 1))


def next_training_tracks(
    qim: QueryInteraction,
    outputs: dict,
    targets: FrameTargets,
    assignment: Assignment,
    track: TrackState,
) -> TrackState:
    """Training's track update: every paired query becomes (or stays) the track of its object's
    id; unpaired track queries (their object left) end. The trainer may add TransRMOT's random
    drops and false positives on top."""
    order = torch.argsort(assignment.query_index)
    keep = assignment.query_index[order]
    ids = targets.ids[assignment.target_index[order]]
    next_id = max(track.next_id, int(ids.max()) + 1 if len(ids) else 0)
    misses = torch.zeros_like(ids)
    return advance_tracks(qim, outputs, keep, ids, misses, next_id)
