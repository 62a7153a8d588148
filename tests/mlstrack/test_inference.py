"""Online inference writes 1-based MOTChallenge predictions (and optionally a video)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlstrack.data import ReferKittiIndex
from mlstrack.errors import ModelConfigError
from mlstrack.inference import (
    InferenceSettings,
    load_run,
    track_dataset,
    track_expression,
    track_video,
)
from mlstrack.tracker_config import CALIBRATION_FILE, TRACKER_FIELDS, TRACKER_FILE, TrackerConfig
from mlstrack.tracking_results import VIDEO_FILE, FrameResult, prediction_lines
from mlstrack.training import TrainConfig, Trainer
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.formats.refer_kitti import PREDICTION_FILE


def result(ids: list[int], boxes: list[list[float]]) -> FrameResult:
    k = len(ids)
    return FrameResult(
        np.array(ids, np.int64),
        np.array(boxes, np.float32).reshape(k, 4),
        np.ones(k, np.float32),
        np.ones(k, np.float32),
        np.ones(k, bool),
    )


def test_prediction_lines_are_one_based_xywh() -> None:
    lines = prediction_lines(
        [
            result([4], [[10, 20, 30, 60]]),
            result([], []),
            result([4, 9], [[11, 20, 31, 60], [5, 5, 5, 9]]),
        ]
    )
    assert lines == [
        "1,4,10,20,20,40,1,1,1\n",
        "3,4,11,20,20,40,1,1,1\n",
    ]  # the empty box is left out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inference")
    tree = write_tree(root / "rk")
    Trainer(TrainConfig(max_steps=2, tensorboard=False), tree, root / "run").train()
    return tree, root / "run"


def test_track_dataset_writes_every_test_sequence(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    tree, run = trained
    index = ReferKittiIndex.open(tree)
    model, settings, folder = load_run(run)
    assert folder == run / "model" and settings == InferenceSettings(None, None)
    # thresholds an untrained model passes, so boxes come out
    settings = settings.with_tracker(new_track_score=0.0, drop_score=0.0, refer_threshold=0.0)
    summary = track_dataset(model, index, tmp_path / "res", settings, video=True)
    assert summary.sequences == 3 and summary.frames == 18 and summary.boxes > 0
    for video_id, name in index.test_sequences:
        folder = tmp_path / "res" / video_id / name
        rows = [line.split(",") for line in (folder / PREDICTION_FILE).read_text().splitlines()]
        frames = {int(r[0]) for r in rows}
        assert frames <= set(range(1, 7)) and 1 in frames
        assert all(r[6:] == ["1", "1", "1"] for r in rows)
        assert (folder / VIDEO_FILE).stat().st_size > 0
    assert (tmp_path / "res" / "tracking.json").is_file()


def test_the_video_plays_at_the_exported_frame_rate(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """`track --video` writes each video at its frame rate from native_ids.json (an export's),
    and at KITTI's 10 fps for a tree without one (the original Refer-KITTI)."""
    import cv2

    source, run = trained
    tree = tmp_path / "rk"
    shutil.copytree(source, tree)
    model, settings, _ = load_run(run)
    settings = settings.with_tracker(new_track_score=0.0, drop_score=0.0, refer_threshold=0.0)
    sequence = ReferKittiIndex.open(tree).test_sequences[:1]
    rates = {}
    for fps in (None, 25.0):
        if fps is not None:
            entry = {"native_video": sequence[0][0], "fps": fps, "track_ids": {}}
            (tree / "native_ids.json").write_text(json.dumps({"videos": {sequence[0][0]: entry}}))
        index = ReferKittiIndex.open(tree)
        out = tmp_path / f"res-{fps}"
        track_dataset(model, index, out, settings, sequences=sequence, video=True)
        capture = cv2.VideoCapture(str(out / sequence[0][0] / sequence[0][1] / VIDEO_FILE))
        rates[fps] = capture.get(cv2.CAP_PROP_FPS)
        capture.release()
    assert rates == {None: 10.0, 25.0: 25.0}


def test_tracker_settings_are_checked(trained: tuple[Path, Path]) -> None:
    _, settings, _ = load_run(trained[1])
    with pytest.raises(ModelConfigError, match="speed"):
        settings.with_tracker(speed=3)
    with pytest.raises(ModelConfigError, match="drop_score"):
        settings.with_tracker(drop_score=0.9)


def test_a_video_tracked_with_a_shared_backbone_gives_each_expression_alone(
    trained: tuple[Path, Path],
) -> None:
    tree, run = trained
    index = ReferKittiIndex.open(tree)
    model, settings, _ = load_run(run)
    settings = settings.with_tracker(new_track_score=0.0, drop_score=0.0, refer_threshold=0.0)
    video_id = index.test_sequences[0][0]
    expressions = [index.expression(v, n) for v, n in index.test_sequences if v == video_id]
    assert len(expressions) > 1
    calls = []
    backbone = model.visual_features
    model.visual_features = lambda images: calls.append(1) or backbone(images)  # type: ignore[method-assign]
    together = track_video(model, index.videos[video_id], expressions, settings)
    assert len(calls) == index.videos[video_id].num_frames  # once per frame, not per expression
    model.visual_features = backbone  # type: ignore[method-assign]
    for expression in expressions:
        alone = track_expression(model, index.videos[video_id], expression, settings)
        for a, b in zip(alone, together[expression.name], strict=True):
            assert a.ids.tolist() == b.ids.tolist()
            assert np.array_equal(a.boxes_xyxy, b.boxes_xyxy)
            assert np.array_equal(a.refer_scores, b.refer_scores)


def test_the_run_stores_its_tracker_config_next_to_the_model(trained: tuple[Path, Path]) -> None:
    model_dir = trained[1] / "model"
    stored = json.loads((model_dir / TRACKER_FILE).read_text())
    assert stored == TrackerConfig().to_dict()
    model_config = json.loads((model_dir / "config.json").read_text())["config"]
    assert not set(TRACKER_FIELDS) & set(model_config)  # the model config has no thresholds


def test_tracking_never_rewrites_the_model_config(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    tree, run = trained
    before = (run / "model" / "config.json").read_bytes()
    model, settings, _ = load_run(run)
    config = model.config
    settings = settings.with_tracker(new_track_score=0.0, drop_score=0.0, refer_threshold=0.1)
    track_dataset(model, ReferKittiIndex.open(tree), tmp_path / "res", settings)
    assert model.config is config and (run / "model" / "config.json").read_bytes() == before
    summary = json.loads((tmp_path / "res" / "tracking.json").read_text())
    assert summary["tracker"]["refer_threshold"] == 0.1


def test_an_old_checkpoint_with_tracker_fields_in_its_model_config_still_loads(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    old = tmp_path / "old-run"
    shutil.copytree(trained[1] / "model", old / "model")
    (old / "model" / TRACKER_FILE).unlink()  # written before the tracker had its own file
    path = old / "model" / "config.json"
    payload = json.loads(path.read_text())
    payload["config"].update(
        new_track_score=0.45, drop_score=0.4, miss_tolerance=3, refer_threshold=0.33
    )
    path.write_text(json.dumps(payload))
    model, settings, _ = load_run(old)
    assert settings.tracker == TrackerConfig(
        new_track_score=0.45, drop_score=0.4, miss_tolerance=3, refer_threshold=0.33
    )
    assert model.config == load_run(trained[1])[0].config
    # and a calibration of such a run wins over the old fields
    (old / "model" / CALIBRATION_FILE).write_text(json.dumps({"chosen": {"refer_threshold": 0.2}}))
    assert load_run(old)[1].tracker.refer_threshold == 0.2
    # a broken tracker.json is named
    (old / "model" / TRACKER_FILE).write_text('{"drop_score": 0.9}')
    with pytest.raises(ModelConfigError, match=r"tracker\.json.*drop_score"):
        load_run(old)


def test_calibration_reports_the_best_so_far(trained: tuple[Path, Path]) -> None:
    """The progress of `calibrate` carries the best held-out HOTA over every combination tried
    so far: never falling, ending at the chosen combination's."""
    from mlstrack.calibration import calibrate

    tree, run = trained
    model, settings, _ = load_run(run)
    events = []
    result = calibrate(
        model,
        ReferKittiIndex.open(tree),
        ["0001"],
        settings,
        track_grid=((0.0, 0.0), (0.9, 0.8)),  # an untrained model: boxes, then none
        refer_grid=(0.0,),
        area_grid=(0.0,),
        progress=events.append,
    )
    best = [event.values["best held-out HOTA"] for event in events]
    assert len(best) == 2 and best[0] > 0 and best[1] == best[0]
    assert best[-1] == pytest.approx(result.hota, abs=1e-3)
