from __future__ import annotations

import numpy as np
import pytest
import torch

from mlstrack.track_state import TrackState
from mlstrack.tracker import select_tracks, track_step
from mlstrack.tracker_config import TrackerConfig
from mlstrack.tracking_results import FrameResult
from tests.mlstrack.conftest import Overfitted


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _outputs(detect_scores: list[float], track_scores: list[float]) -> dict:
    scores = torch.tensor([_logit(p) for p in detect_scores + track_scores])
    n = scores.numel()
    return {
        "pred_logits": scores.view(1, n, 1),
        "pred_refers": torch.zeros(1, n, 1),
        "pred_boxes": torch.full((1, n, 4), 0.5),
        "num_detect": len(detect_scores),
    }


def _state(ids: list[int], misses: list[int], next_id: int) -> TrackState:
    n = len(ids)
    return TrackState(
        torch.zeros(n, 4),
        torch.zeros(n, 4),
        torch.full((n, 4), 0.5),
        torch.tensor(ids, dtype=torch.long),
        torch.ones(n),
        torch.ones(n),
        torch.tensor(misses, dtype=torch.long),
        next_id,
    )


def test_bookkeeping_over_three_frames() -> None:
    config = TrackerConfig(miss_tolerance=2)
    # frame 1: detect queries 0 and 2 pass 0.7 → tracks 0 and 1
    keep, ids, misses, next_id, visible = select_tracks(
        _outputs([0.9, 0.5, 0.75], []), TrackState.empty(4), config
    )
    assert keep.tolist() == [0, 2] and ids.tolist() == [0, 1] and next_id == 2
    # frame 2: track 0 stays (0.65 ≥ 0.6), track 1 misses (0.3), nothing new (0.69 < 0.7)
    state = _state([0, 1], [0, 0], 2)
    keep, ids, misses, next_id, visible = select_tracks(
        _outputs([0.69, 0.1, 0.1], [0.65, 0.3]), state, config
    )
    assert ids.tolist() == [0, 1] and misses.tolist() == [0, 1]
    assert visible.tolist() == [True, False] and keep.tolist() == [3, 4]
    # frame 3: track 1 misses again → dropped at the tolerance; a new object gets id 2
    state = _state([0, 1], [0, 1], 2)
    keep, ids, misses, next_id, visible = select_tracks(
        _outputs([0.1, 0.8, 0.1], [0.9, 0.2]), state, config
    )
    assert ids.tolist() == [0, 2] and keep.tolist() == [3, 1] and next_id == 3


def test_frame_result_validates() -> None:
    with pytest.raises(ValueError):
        FrameResult(
            np.zeros(2, np.int64), np.zeros((1, 4)), np.zeros(2), np.zeros(2), np.ones(2, bool)
        )


def test_a_trained_model_keeps_identities_over_three_frames(overfitted: Overfitted) -> None:
    model, text, images = overfitted.model, overfitted.text, overfitted.images
    tracker = overfitted.tracker
    track, results = None, []
    for image in (images[0], images[1], images[1]):
        track, result = track_step(model, image, text, track, tracker)
        results.append((track, result))
    first, second, third = (state for state, _ in results)
    assert len(first) == 2  # the two objects start tracks on frame 1
    assert second.ids.tolist() == first.ids.tolist() == third.ids.tolist()
    assert third.next_id == 2
    # object 3 (referred) is output with its box in pixels; object 5 (not referred) is not
    seen = results[1][1]
    assert len(seen) == 2 and seen.referred.sum() == 1  # both seen, one referred
    final = seen.output()
    assert len(final) == 1 and final.boxes_xyxy.shape == (1, 4)
    assert np.allclose(final.boxes_xyxy[0], [0.22 * 96, 0.25 * 64, 0.42 * 96, 0.55 * 64], atol=6)
