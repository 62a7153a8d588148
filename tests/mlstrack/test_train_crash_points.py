"""`uecity train` killed (SIGKILL) just before a checkpoint or the final model is renamed into
place, then run again with the same command: the leftovers are swept and the run ends with the
model and log an uninterrupted run gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.crash_points import run, uecity
from tests.mlstrack.refer_kitti_tree import write_tree

KILLED = -9


def _log_without_timings(run_dir: Path) -> list[list[str]]:
    with (run_dir / "log.csv").open(newline="") as handle:
        return [row[:-1] for row in csv.reader(handle)]  # the last column is seconds


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    work = tmp_path_factory.mktemp("train")
    tree = write_tree(work / "rk")
    args = [
        "train", str(tree), "--preset", "tiny", "--max-steps", "3", "--checkpoint-every", "1",
        "--no-progress", "--out",
    ]  # fmt: skip
    done = uecity(*args, str(work / "run"))
    assert done.returncode == 0, done.stderr
    return args, work / "run"


@pytest.mark.parametrize("point", [".step-", ".model.uecity-tmp-"])
def test_train_killed_before_a_rename_finishes_with_the_same_command(
    reference: tuple[list[str], Path], tmp_path: Path, point: str
) -> None:
    args, expected = reference
    out = tmp_path / "run"
    assert run(point, tmp_path / "count", *args, str(out)) == KILLED
    assert list(out.rglob(f"{point}*")), "the kill left the half-written folder"
    finished = uecity(*args, str(out))
    assert finished.returncode == 0, finished.stderr
    assert not list(out.rglob(".tmp-*")) and not list(out.rglob("*.uecity-tmp-*"))
    for name in ("model/model.safetensors", "model/config.json", "train_config.yaml"):
        assert (out / name).read_bytes() == (expected / name).read_bytes(), name
    assert _log_without_timings(out) == _log_without_timings(expected)
