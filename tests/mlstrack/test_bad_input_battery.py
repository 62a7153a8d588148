"""Every mistake of a model trainer is one clear line: train, track and evaluate refuse bad
input with one `error:` line, the README's exit code, no traceback and nothing written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.mlstrack.refer_kitti_tree import write_tree
from tests.uecity.test_bad_input_battery import assert_one_clear_line, snapshot
from uecity.cli import app
from uecity.formats.mot_challenge import read_seqmap
from uecity.formats.refer_kitti import ReferKittiTree, prediction_file

runner = CliRunner()
PREDICTION = "results/0002/blue-cars/predict.txt"


def _results(work: Path, text: str) -> None:
    """A results folder whose every test prediction is empty except blue-cars's `text`."""
    for video, name in read_seqmap(ReferKittiTree(work / "rk").seqmap):
        path = prediction_file(work / "results", video, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (work / PREDICTION).write_text(text)


def _model(work: Path) -> None:
    assert runner.invoke(app, ["model", "init", "--out", str(work / "model")]).exit_code == 0


# name → (prepare the work folder, command line, exit code, text the line must hold)
CASES: dict[str, tuple[Callable[[Path], None] | None, str, int, tuple[str, ...]]] = {
    "non-UTF-8 config": (
        lambda w: (w / "train.yaml").write_bytes(b"lr: \xfe\n"),
        "train {w}/rk --out {w}/run --config {w}/train.yaml",
        3,
        ("train.yaml:1", "UTF-8"),
    ),
    "duplicate key in a config": (
        lambda w: (w / "train.yaml").write_text("lr: 0.1\nlr: 0.2\n"),
        "train {w}/rk --out {w}/run --config {w}/train.yaml",
        3,
        ("train.yaml:2:1:", "duplicate key 'lr'"),
    ),
    "unknown --device": (None, "train {w}/rk --out {w}/run --device tpu", 2, ("--device",)),
    "unknown --preset": (None, "train {w}/rk --out {w}/run --preset huge", 2, ("--preset",)),
    "--out under a file": (
        lambda w: (w / "file").write_text("x"),
        "train {w}/rk --out {w}/file/run --preset tiny",
        2,
        ("--out", "is a file"),
    ),
    "a tree without labels_with_ids": (
        lambda w: shutil.rmtree(w / "rk" / "KITTI" / "labels_with_ids"),
        "train {w}/rk --out {w}/run --preset tiny --max-steps 1",
        4,
        ("not a Refer-KITTI tree", "KITTI/labels_with_ids/image_02/ is missing"),
    ),
    "evaluate a tree without seqmap.txt": (
        lambda w: (_results(w, ""), (w / "rk" / "seqmap.txt").unlink()),
        "evaluate {w}/results --data {w}/rk",
        4,
        ("no seqmap.txt", "test sequences"),
    ),
    "a seqmap line that is no sequence": (
        lambda w: (w / "rk" / "seqmap.txt").write_text("0002+blue-cars\n0002 blue-cars\n"),
        "evaluate {w}/results --data {w}/rk",
        4,
        ("seqmap.txt:2:", "`<video>+<expression>`"),
    ),
    "Deformable-DETR weights that are not there": (
        lambda w: (w / "train.yaml").write_text(f"init_from_deformable_detr: {w}/no-such\n"),
        "train {w}/rk --out {w}/run --preset tiny --max-steps 1 --config {w}/train.yaml",
        6,
        ("no-such",),
    ),
    "--refer-threshold out of range": (
        _model,
        "track {w}/model --data {w}/rk --out {w}/res --refer-threshold 7",
        2,
        ("--refer-threshold",),
    ),
    "calibrate a run that is not there": (
        None,
        "calibrate {w}/no-run --data {w}/rk",
        3,
        ("no-run", "not a training run folder"),
    ),
    "predict.txt that is not numbers": (
        lambda w: _results(w, "1,2,abc,4\n"),
        "evaluate {w}/results --data {w}/rk",
        4,
        (f"{PREDICTION}:1:", "MOTChallenge"),
    ),
    "predict.txt beyond the video": (
        lambda w: _results(w, "1,1,0,0,5,5,1,-1,-1,-1\n99,1,0,0,5,5,1,-1,-1,-1\n"),
        "evaluate {w}/results --data {w}/rk",
        4,
        (f"{PREDICTION}:2:", "outside the video"),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_is_one_clear_line_and_writes_nothing(tmp_path: Path, name: str) -> None:
    prepare, command, code, needles = CASES[name]
    write_tree(tmp_path / "rk")
    if prepare is not None:
        prepare(tmp_path)
    before = snapshot(tmp_path)
    result = runner.invoke(app, command.format(w=tmp_path).split())
    assert_one_clear_line(result, code, *needles)
    assert "TrackEval" not in result.output and "uecity-trackeval-" not in result.output
    assert snapshot(tmp_path) == before


def test_a_refused_run_can_be_corrected_into_the_same_out(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "rk")
    (tmp_path / "bad.yaml").write_text(f"init_from_deformable_detr: {tmp_path}/no-such\n")
    run = tmp_path / "run"
    args = ["train", str(tree), "--out", str(run), "--preset", "tiny", "--max-steps", "1"]
    assert runner.invoke(app, [*args, "--config", str(tmp_path / "bad.yaml")]).exit_code == 6
    result = runner.invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0 and "trained 1 steps" in result.output, result.output
