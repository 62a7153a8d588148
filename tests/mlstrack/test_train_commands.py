"""`uecity train`, `uecity track`, `uecity evaluate` through typer's CliRunner, from a dataset
made with `uecity compose` + `uecity export`, and every bad input class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.mlstrack.refer_kitti_tree import write_tree
from tests.traffic_factory import TrafficSpec, build_traffic_dataset
from uecity.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # rich wraps lines at the terminal width


def test_compose_export_train_track_evaluate(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    build_traffic_dataset(
        dataset,
        TrafficSpec(
            videos=3, num_frames=12, width=160, height=90, concurrent=4, image_format="png", seed=3
        ),
    )
    invoke(
        "compose",
        dataset,
        "-n",
        "3",
        "--min-objects",
        "1",
        "--min-frames",
        "2",
        "--test-videos",
        "0003",
        "--shared-pool",
        "--workers",
        "1",
    )
    export = tmp_path / "export"
    invoke("export", dataset, "--format", "refer-kitti", "--out", export, "--workers", "1")
    config = tmp_path / "train.yaml"
    config.write_text("calibration_videos: 1\n")  # video 0002 held out for calibration
    output = invoke(
        "train",
        export,
        "--out",
        tmp_path / "run",
        "--preset",
        "tiny",
        "--max-steps",
        "2",
        "--config",
        config,
        "--no-progress",
    )
    assert "trained 2 steps" in output
    assert "calibrating the tracker on held-out training videos 0002" in output
    calibration = json.loads((tmp_path / "run" / "model" / "calibration.json").read_text())
    best = max(row["HOTA"] for row in calibration["grid"])
    assert calibration["held_out_combined_hota"] == best and calibration["videos"] == ["0002"]
    tracker = json.loads((tmp_path / "run" / "model" / "tracker.json").read_text())
    assert tracker == {**tracker, **calibration["chosen"]}  # the run's tracker config, calibrated
    assert tracker["miss_tolerance"] == 5  # not calibrated: the train config's (the default)
    held_out = (tmp_path / "run" / "diagnostics.csv").read_text().splitlines()
    assert held_out[0].startswith("step,localised_share") and held_out[1].startswith("2,")
    output = invoke(
        "track",
        tmp_path / "run",
        "--data",
        export,
        "--out",
        tmp_path / "res",
        "--new-track-score",
        "0.0",
        "--drop-score",
        "0.0",
    )
    assert "tracked" in output and "calibrated unless overridden" in output
    tracking = json.loads((tmp_path / "res" / "tracking.json").read_text())
    assert tracking["tracker"]["new_track_score"] == 0.0  # the option wins
    assert tracking["tracker"]["refer_threshold"] == calibration["chosen"]["refer_threshold"]
    output = invoke("evaluate", tmp_path / "res", "--data", export, "--dataset", dataset)
    assert "HOTA" in output and "combined" in output
    assert "detection-only HOTA" in output and "referring AUC" in output
    diagnostics = json.loads((tmp_path / "res" / "diagnostics.json").read_text())
    assert diagnostics["overall"]["frames"] == 12 * diagnostics["sequences"]
    assert (tmp_path / "res" / "learning_curve.png").is_file()
    with pytest.raises(AssertionError, match="test videos"):
        invoke("calibrate", tmp_path / "run", "--data", export, "--videos", "0003")
    report = json.loads((tmp_path / "res" / "evaluation.json").read_text())
    assert report["sequences"] >= 1 and "native dataset" in report["protocol"]["atoms"]
    assert any(":" in atom or atom for atom in report["per_atom"])
    # a finished run is not retrained
    assert "already trained" in invoke(
        "train",
        export,
        "--out",
        tmp_path / "run",
        "--max-steps",
        "2",
        "--config",
        config,
        "--no-progress",
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("cli") / "rk")


def failing(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_missing_export_folder(tmp_path: Path) -> None:
    output = failing("train", tmp_path / "nope", "--out", tmp_path / "run", "--max-steps", "1")
    assert "not a Refer-KITTI tree" in output
    assert not (tmp_path / "run").exists()


def test_config_file_with_unknown_keys(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("max_steps: 2\nlearning_rate: 0.1\n")
    output = failing("train", tree, "--out", tmp_path / "run", "--config", config)
    assert "learning_rate" in output and "train.yaml" in output
    assert not (tmp_path / "run").exists()


def test_checkpoint_that_does_not_load(tree: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{broken")
    output = failing("track", run, "--data", tree, "--out", tmp_path / "res")
    assert "config.json" in output
    assert not (tmp_path / "res").exists()


def test_results_missing_predictions(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "res").mkdir()
    output = failing("evaluate", tmp_path / "res", "--data", tree)
    assert "predictions are missing" in output
    assert not (tmp_path / "res" / "evaluation.json").exists()


def test_cuda_without_a_gpu(tree: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    output = failing("train", tree, "--out", tmp_path / "run", "--device", "cuda")
    assert "CUDA" in output
