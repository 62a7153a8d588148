from __future__ import annotations

import torch

from mlstrack.matcher import HungarianMatcher


def test_hand_computed_assignment_with_l1_only() -> None:
    matcher = HungarianMatcher(cost_class=0.0, cost_bbox=1.0, cost_giou=0.0)
    boxes = torch.tensor([[0.2, 0.2, 0.1, 0.1], [0.8, 0.8, 0.1, 0.1], [0.5, 0.5, 0.1, 0.1]])
    targets = torch.tensor([[0.79, 0.8, 0.1, 0.1], [0.21, 0.2, 0.1, 0.1]])
    logits = torch.zeros(3, 1)
    # costs: query0→t0 1.19, query0→t1 0.01, query1→t0 0.01, query1→t1 1.19, query2 0.59 / 0.59
    cost = matcher.cost_matrix(logits, boxes, torch.zeros(2, dtype=torch.long), targets)
    assert torch.allclose(cost, torch.tensor([[1.19, 0.01], [0.01, 1.19], [0.59, 0.59]]), atol=1e-5)
    queries, objects = matcher(logits, boxes, torch.zeros(2, dtype=torch.long), targets)
    assert queries.tolist() == [0, 1] and objects.tolist() == [1, 0]


def test_class_cost_breaks_ties() -> None:
    matcher = HungarianMatcher(cost_class=1.0, cost_bbox=0.0, cost_giou=0.0)
    boxes = torch.full((2, 4), 0.5)
    logits = torch.tensor([[-3.0], [3.0]])  # query 1 is confident
    queries, objects = matcher(logits, boxes, torch.zeros(1, dtype=torch.long), boxes[:1])
    assert queries.tolist() == [1] and objects.tolist() == [0]


def test_empty_cases() -> None:
    matcher = HungarianMatcher()
    q, t = matcher(
        torch.zeros(3, 1), torch.rand(3, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0, 4)
    )
    assert q.numel() == t.numel() == 0
    q, t = matcher(
        torch.zeros(0, 1), torch.zeros(0, 4), torch.zeros(2, dtype=torch.long), torch.rand(2, 4)
    )
    assert q.numel() == t.numel() == 0
