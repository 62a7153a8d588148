"""HOTA through TrackEval: ground truth as prediction, a one-frame shift, empty predictions,
and our numbers against TrackEval run directly on the same files (its default layout)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trackeval

from mlstrack.data import ReferExpression, ReferKittiIndex
from mlstrack.evaluation import METRIC_FIELDS, evaluate_results, gt_lines, write_report
from mlstrack.evaluation.atoms import sentence_atoms
from mlstrack.tracking_results import FrameResult, prediction_lines
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.core.errors import DatasetError
from uecity.formats.refer_kitti import prediction_file


@pytest.fixture
def index(tmp_path: Path) -> ReferKittiIndex:
    return ReferKittiIndex.open(write_tree(tmp_path / "rk"))


def write_predictions(
    index: ReferKittiIndex, out: Path, shift: int = 0, empty: bool = False
) -> Path:
    for expression in index.test_expressions():
        folder = out / expression.video_id / expression.name
        folder.mkdir(parents=True, exist_ok=True)
        lines = [] if empty else gt_lines(index, expression)
        length = index.videos[expression.video_id].num_frames
        shifted = []
        for line in lines:
            frame, rest = line.split(",", 1)
            if 1 <= int(frame) + shift <= length:
                shifted.append(f"{int(frame) + shift},{rest}")
        (folder / "predict.txt").write_text("".join(shifted))
    return out


def test_gt_lines_are_one_based(index: ReferKittiIndex) -> None:
    lines = gt_lines(index, index.expression("0002", "blue-cars"))
    frame, track, *box, rest = lines[0].split(",", 6)
    assert (frame, track, rest) == ("2", "12", "1,1,1\n")  # frame 1 (0-based) → line 2
    # the label file's 6-decimal normalised box, carried at full precision (no rounding)
    assert box == ["55.999967999999996", "7", "16.000032000000004", "16"]
    assert len(lines) == 4


def test_ground_truth_as_prediction_scores_100(index: ReferKittiIndex, tmp_path: Path) -> None:
    report = evaluate_results(write_predictions(index, tmp_path / "res"), index)
    for scores in (
        report.combined,
        report.per_expression_mean,
        *report.per_video.values(),
        *report.per_atom.values(),
    ):
        assert scores["HOTA"] == pytest.approx(100.0)
        assert all(scores[f] == pytest.approx(100.0) for f in METRIC_FIELDS)
    # full precision: the boxes match exactly, so localisation is perfect, not 99.99
    assert report.combined["LocA"] == 100.0


def ground_truth_results(
    index: ReferKittiIndex, expression: ReferExpression, shift: int = 0
) -> list[FrameResult]:
    """The expression's referred boxes as the tracker's per-frame results (`shift` frames late)."""
    video = index.videos[expression.video_id]
    results = []
    for frame in range(video.num_frames):
        source = frame - shift
        labels = video.labels(source) if 0 <= source < video.num_frames else None
        keep = (
            np.isin(labels.ids, list(expression.referred_at(source)))
            if labels is not None
            else np.zeros(0, bool)
        )
        ids = labels.ids[keep] if labels is not None else np.zeros(0, np.int64)
        boxes = labels.boxes_xyxy[keep] if labels is not None else np.zeros((0, 4))
        k = len(ids)
        results.append(FrameResult(ids, boxes, np.ones(k), np.ones(k), np.ones(k, bool)))
    return results


@pytest.mark.parametrize("shift", [0, 1, -1])
def test_the_trackers_writer_agrees_with_the_ground_truth(
    index: ReferKittiIndex, tmp_path: Path, shift: int
) -> None:
    """Ground truth written by the tracker's own writer, scored by TrackEval through our
    evaluation: HOTA 100 (LocA exactly 100); one frame late or early scores less."""
    results_dir = tmp_path / "res"
    for expression in index.test_expressions():
        path = prediction_file(results_dir, expression.video_id, expression.name)
        path.parent.mkdir(parents=True)
        lines = prediction_lines(ground_truth_results(index, expression, shift))
        path.write_text("".join(lines))
    report = evaluate_results(results_dir, index)
    if shift == 0:
        assert report.combined["HOTA"] == pytest.approx(100.0)
        assert report.per_expression_mean["HOTA"] == pytest.approx(100.0)
        assert report.combined["LocA"] == 100.0
    else:
        assert report.combined["HOTA"] < 90.0
        assert report.per_expression_mean["HOTA"] < 90.0


def test_a_one_frame_shift_scores_lower(index: ReferKittiIndex, tmp_path: Path) -> None:
    report = evaluate_results(write_predictions(index, tmp_path / "res", shift=1), index)
    assert report.combined["HOTA"] < 90.0
    assert report.per_expression_mean["HOTA"] < 90.0


def test_empty_predictions_score_0(index: ReferKittiIndex, tmp_path: Path) -> None:
    report = evaluate_results(write_predictions(index, tmp_path / "res", empty=True), index)
    assert report.combined["HOTA"] == 0.0 and report.per_expression_mean["DetA"] == 0.0


def test_equal_to_trackeval_run_directly(index: ReferKittiIndex, tmp_path: Path) -> None:
    results = write_predictions(index, tmp_path / "res", shift=1)
    # one sequence partly right, to make the numbers less trivial
    first = index.test_expressions()[0]
    (results / first.video_id / first.name / "predict.txt").write_text(
        "".join(gt_lines(index, first))
    )
    ours = evaluate_results(results, index)
    # TrackEval's default MOTChallenge layout, seqmap and seqinfo.ini, default settings
    gt_root, trackers = tmp_path / "gt", tmp_path / "trackers"
    names = [e.sequence for e in index.test_expressions()]
    (gt_root / "seqmaps").mkdir(parents=True)
    (gt_root / "seqmaps" / "rk-test.txt").write_text("name\n" + "\n".join(names) + "\n")
    data = trackers / "rk-test" / "ours" / "data"
    data.mkdir(parents=True)
    for expression in index.test_expressions():
        folder = gt_root / "rk-test" / expression.sequence
        (folder / "gt").mkdir(parents=True)
        (folder / "gt" / "gt.txt").write_text("".join(gt_lines(index, expression)))
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={expression.sequence}\nseqLength=6\n"
        )
        (data / f"{expression.sequence}.txt").write_text(
            (results / expression.video_id / expression.name / "predict.txt").read_text()
        )
    config = {
        "GT_FOLDER": str(gt_root),
        "TRACKERS_FOLDER": str(trackers),
        "BENCHMARK": "rk",
        "SPLIT_TO_EVAL": "test",
    }
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = trackeval.Evaluator(
            {
                "PRINT_RESULTS": False,
                "OUTPUT_SUMMARY": False,
                "OUTPUT_DETAILED": False,
                "PLOT_CURVES": False,
                "LOG_ON_ERROR": None,
            }
        )
        direct, _ = evaluator.evaluate(
            [trackeval.datasets.MotChallenge2DBox(config)], [trackeval.metrics.HOTA()]
        )
    direct = direct["MotChallenge2DBox"]["ours"]
    combined = direct["COMBINED_SEQ"]["pedestrian"]["HOTA"]
    for field in METRIC_FIELDS:
        assert ours.combined[field] == pytest.approx(float(np.mean(combined[field])) * 100)
        mean = np.mean([np.mean(direct[s]["pedestrian"]["HOTA"][field]) for s in names]) * 100
        assert ours.per_expression_mean[field] == pytest.approx(mean)
    assert 0 < ours.combined["HOTA"] < 100


def test_missing_predictions_are_named(index: ReferKittiIndex, tmp_path: Path) -> None:
    results = write_predictions(index, tmp_path / "res")
    (results / "0002" / "blue-cars" / "predict.txt").unlink()
    with pytest.raises(DatasetError, match=r"0002/blue-cars/predict\.txt"):
        evaluate_results(results, index)


def test_a_malformed_prediction_line_is_named(index: ReferKittiIndex, tmp_path: Path) -> None:
    results = write_predictions(index, tmp_path / "res")
    (results / "0002" / "blue-cars" / "predict.txt").write_text("2,1,0,0,5,5,1,1,1\n2,1,0;0,5\n")
    with pytest.raises(DatasetError, match=r"blue-cars/predict\.txt:2: expected MOTChallenge"):
        evaluate_results(results, index)


def test_frames_outside_the_video_are_rejected(index: ReferKittiIndex, tmp_path: Path) -> None:
    results = write_predictions(index, tmp_path / "res")
    (results / "0002" / "blue-cars" / "predict.txt").write_text("7,1,0,0,5,5,1,1,1\n")
    # named by the user's file and line, not by TrackEval's temporary copy
    with pytest.raises(DatasetError, match=r"0002/blue-cars/predict\.txt:1: frame 7 is outside"):
        evaluate_results(results, index)


def test_report_files_and_atoms(index: ReferKittiIndex, tmp_path: Path) -> None:
    report = evaluate_results(write_predictions(index, tmp_path / "res"), index)
    json_path, markdown_path = write_report(report, tmp_path / "report")
    data = json.loads(json_path.read_text())
    assert data["sequences"] == 3 and data["per_atom"]["cars"]["sequences"] == 2
    assert "turning" in data["per_atom"] and "0002" in data["per_video"]
    assert "| combined (TrackEval COMBINED_SEQ) | 100.00" in markdown_path.read_text()
    assert sentence_atoms("The black cars, turning left") == ["black", "cars", "turning", "left"]


BLOCK_TORCH = """
import importlib.abc, sys

class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"torch", "transformers", "safetensors", "open_clip"}:
            raise ImportError(f"{name} is blocked: evaluation must run without torch")
        return None

sys.meta_path.insert(0, BlockTorch())
sys.argv = ["uecity", *sys.argv[1:]]
from uecity.cli import main
main()
"""


def test_uecity_evaluate_runs_with_torch_absent(index: ReferKittiIndex, tmp_path: Path) -> None:
    results = write_predictions(index, tmp_path / "res")
    for expression in index.test_expressions():  # tracks.txt too, so the diagnostics run
        folder = results / expression.video_id / expression.name
        rows = [line.split(",")[:6] for line in gt_lines(index, expression)]
        (folder / "tracks.txt").write_text("".join(",".join(r) + ",0.9,0.8\n" for r in rows))
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, "evaluate", str(results), "--data", str(index.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "detection-only HOTA" in done.stdout
    report = json.loads((results / "evaluation.json").read_text())
    assert report["combined"]["HOTA"] == pytest.approx(100.0)
    # and the blocker works: the model commands do need torch
    blocked = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, "model", "summary"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert blocked.returncode == 7 and "uecity[model]" in blocked.stderr
