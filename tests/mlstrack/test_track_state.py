"""TrackState and the query interaction module."""

from __future__ import annotations

import pytest
import torch

from mlstrack.query_interaction import QueryInteraction
from mlstrack.track_state import TrackState


def _state(n: int) -> TrackState:
    return TrackState(
        torch.randn(n, 8),
        torch.randn(n, 8),
        torch.rand(n, 4),
        torch.arange(n),
        torch.rand(n),
        torch.rand(n),
        torch.zeros(n, dtype=torch.long),
        next_id=n,
    )


def test_empty_and_select() -> None:
    empty = TrackState.empty(8)
    assert len(empty) == 0 and empty.query_pos.shape == (0, 8)
    state = _state(4)
    picked = state.select(torch.tensor([True, False, True, False]))
    assert picked.ids.tolist() == [0, 2] and picked.next_id == 4


def test_validation() -> None:
    with pytest.raises(ValueError, match="next_id"):
        TrackState(
            torch.zeros(1, 8),
            torch.zeros(1, 8),
            torch.zeros(1, 4),
            torch.tensor([3]),
            torch.zeros(1),
            torch.zeros(1),
            torch.zeros(1, dtype=torch.long),
            next_id=2,
        )
    with pytest.raises(ValueError, match="rows"):
        TrackState(
            torch.zeros(2, 8),
            torch.zeros(2, 8),
            torch.zeros(1, 4),
            torch.tensor([0]),
            torch.zeros(1),
            torch.zeros(1),
            torch.zeros(1, dtype=torch.long),
            next_id=2,
        )


def test_query_interaction_shapes_and_empty() -> None:
    qim = QueryInteraction(8, 2, 16, 0.0)
    pos, feat = qim(torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8))
    assert pos.shape == feat.shape == (3, 8)
    pos, feat = qim(torch.zeros(0, 8), torch.zeros(0, 8), torch.zeros(0, 8))
    assert pos.shape == feat.shape == (0, 8)
