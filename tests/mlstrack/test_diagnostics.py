"""Threshold-free diagnostics: on every object's true box, with the referring score telling
referred objects apart, they must say so (and detection-only scores 100 through TrackEval)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlstrack.data import ReferKittiIndex
from mlstrack.evaluation.diagnostics import (
    diagnose,
    diagnostics_markdown,
    learning_curve,
    referring_auc,
)
from mlstrack.tracking_results import FrameResult, read_track_lines, track_lines
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.core.errors import DatasetError


@pytest.fixture
def index(tmp_path: Path) -> ReferKittiIndex:
    return ReferKittiIndex.open(write_tree(tmp_path / "rk"))


def write_tracks(index: ReferKittiIndex, out: Path, refer: str, background: bool) -> Path:
    """tracks.txt with every object's true box; refer score 0.9/0.1 for referred/unreferred
    ("right") or constant ("flat"); optionally one box on background per frame."""
    for expression in index.test_expressions():
        video = index.videos[expression.video_id]
        results = []
        for frame in range(video.num_frames):
            labels = video.labels(frame)
            referred = expression.referred_at(frame)
            boxes = labels.boxes_xyxy.astype(np.float32)
            ids = labels.ids.astype(np.int64)
            scores = np.full(len(ids), 0.9, np.float32)
            if refer == "right":
                refers = np.array([0.9 if int(i) in referred else 0.1 for i in ids], np.float32)
            else:
                refers = np.full(len(ids), 0.5, np.float32)
            if background:
                boxes = np.concatenate((boxes, [[0, 0, 4, 4]])).astype(np.float32)
                ids = np.append(ids, 99)
                scores = np.append(scores, 0.2).astype(np.float32)
                refers = np.append(refers, 0.3).astype(np.float32)
            results.append(FrameResult(ids, boxes, scores, refers, np.zeros(len(ids), bool)))
        folder = out / expression.video_id / expression.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tracks.txt").write_text("".join(track_lines(results)))
    return out


def test_auc_is_the_ranking_statistic() -> None:
    assert referring_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert referring_auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert referring_auc(np.array([0.5]), np.array([0.5])) == 0.5
    assert referring_auc(np.array([]), np.array([0.5])) is None


def test_track_lines_round_trip() -> None:
    result = FrameResult(
        np.array([3], np.int64),
        np.array([[10, 20, 30, 60]], np.float32),
        np.array([0.8], np.float32),
        np.array([0.25], np.float32),
        np.array([True]),
    )
    back = read_track_lines("".join(track_lines([result])))[0]
    assert back.ids.tolist() == [3] and np.allclose(back.boxes_xyxy, result.boxes_xyxy)
    assert np.allclose(back.refer_scores, [0.25]) and np.allclose(back.scores, [0.8])


def test_perfect_tracks_with_a_right_referring_score(
    index: ReferKittiIndex, tmp_path: Path
) -> None:
    found = diagnose(write_tracks(index, tmp_path / "res", "right", True), index)
    overall = found["overall"]
    assert overall["localised_share"] == 1.0
    assert overall["referring_auc"] == 1.0
    assert overall["live_tracks_on_background_per_frame"] == 1.0
    assert overall["class_score_quartiles"]["on_background"] == [0.2, 0.2, 0.2]
    assert found["detection_only"]["DetRe"] == pytest.approx(100.0)
    assert found["detection_only"]["DetPr"] < 100.0  # the background box is a false positive
    assert "referring AUC | 1.000" in diagnostics_markdown(found)


def test_a_flat_referring_score_is_chance(index: ReferKittiIndex, tmp_path: Path) -> None:
    found = diagnose(write_tracks(index, tmp_path / "res", "flat", False), index)
    assert found["overall"]["referring_auc"] == 0.5
    assert found["detection_only"]["HOTA"] == pytest.approx(100.0)


def test_missing_track_files_are_named(index: ReferKittiIndex, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"tracks\.txt"):
        diagnose(tmp_path, index)


def test_learning_curve_png(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "step,epoch,lr,lr_backbone,loss,loss_ce,loss_bbox,loss_giou,loss_refer,seconds\n"
        "10,0,0.001,0.001,5.0,0.2,0.3,1.0,0.1,0.1\n20,0,0.001,0.001,4.0,0.1,0.2,0.9,0.1,0.1\n"
    )
    path = learning_curve(tmp_path, tmp_path / "out")
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    assert learning_curve(tmp_path / "nothing", tmp_path) is None
