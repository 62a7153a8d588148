from __future__ import annotations

import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import Assignment, SetCriterion, sigmoid_focal_loss
from mlstrack.targets import FrameTargets


def _outputs(num_detect: int, num_track: int, boxes: torch.Tensor) -> dict:
    n = num_detect + num_track
    return {
        "pred_logits": torch.zeros(1, n, 1),
        "pred_boxes": boxes[None],
        "pred_refers": torch.zeros(1, n, 1),
        "num_detect": num_detect,
        "num_track": num_track,
        "aux_outputs": [],
        "denoising": [],
    }


def test_weight_dict_names_every_loss() -> None:
    config = MLSTrackConfig.tiny()
    weights = SetCriterion(config).weight_dict
    assert weights["loss_ce"] == 2 and weights["loss_bbox"] == 5
    assert weights["loss_giou"] == 2 and weights["loss_refer"] == 2
    assert "loss_ce_0" in weights and "loss_refer_dn" in weights
    assert "loss_ce_1" not in weights  # tiny has 2 decoder layers: one auxiliary


def test_track_queries_keep_their_identity() -> None:
    criterion = SetCriterion(MLSTrackConfig.tiny())
    boxes = torch.tensor(
        [
            [0.7, 0.6, 0.1, 0.2],
            [0.3, 0.4, 0.2, 0.3],  # detect queries
            [0.1, 0.1, 0.05, 0.05],
            [0.9, 0.9, 0.05, 0.05],
        ]
    )  # tracks of 5 and 9
    targets = FrameTargets(
        torch.tensor([[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.1, 0.2]]),
        torch.tensor([3, 5]),
        torch.tensor([1.0, 0.0]),
    )
    assignment = criterion.assign(_outputs(2, 2, boxes), targets, torch.tensor([5, 9]))
    pairs = dict(
        zip(assignment.query_index.tolist(), assignment.target_index.tolist(), strict=True)
    )
    # object 5 stays with its track query (index 2) although detect query 0 sits on it;
    # object 3 is new and goes to the detect query on it; track 9 (gone) gets nothing
    assert pairs == {2: 1, 1: 0}


def test_losses_zero_on_a_perfect_box_and_focal_reference() -> None:
    criterion = SetCriterion(MLSTrackConfig.tiny())
    boxes = torch.tensor([[0.3, 0.4, 0.2, 0.3]])
    targets = FrameTargets(boxes.clone(), torch.tensor([1]), torch.tensor([1.0]))
    losses = criterion(
        _outputs(1, 0, boxes),
        targets,
        torch.zeros(0, dtype=torch.long),
        Assignment(torch.tensor([0]), torch.tensor([0])),
    )
    assert losses["loss_bbox"].item() == 0 and abs(losses["loss_giou"].item()) < 1e-6
    expected = sigmoid_focal_loss(torch.zeros(1), torch.ones(1), 0.25, 2.0).item()
    assert abs(losses["loss_ce"].item() - expected) < 1e-6  # 0.25·0.25·ln 2
    assert abs(expected - 0.25 * 0.25 * 0.6931) < 1e-3


def test_no_objects_gives_only_background_losses() -> None:
    criterion = SetCriterion(MLSTrackConfig.tiny())
    empty = FrameTargets(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0))
    losses = criterion(_outputs(3, 0, torch.rand(3, 4)), empty, torch.zeros(0, dtype=torch.long))
    assert losses["loss_bbox"].item() == 0 and losses["loss_ce"].item() > 0
    assert torch.isfinite(criterion.total(losses))
