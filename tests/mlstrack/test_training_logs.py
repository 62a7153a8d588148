"""Training logs: TensorBoard is written when asked for, and asking for it without the package
is refused before the run folder is touched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlstrack.training import TrainConfig, Trainer
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.cli.app import app
from uecity.core.errors import MissingDependencyError

FAST = {"max_steps": 2, "checkpoint_every": 2, "log_every": 1}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("logs") / "rk")


def test_tensorboard_true_writes_the_scalars(tree: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(TrainConfig(**FAST, tensorboard=True), tree, tmp_path / "run").train()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"loss/total", "lr", "loss/loss_ce"} <= set(tags)
    assert [e.step for e in events.Scalars("loss/total")] == [1, 2]


def test_tensorboard_off_by_default_writes_none(tree: Path, tmp_path: Path) -> None:
    assert TrainConfig().tensorboard is False
    Trainer(TrainConfig(**FAST), tree, tmp_path / "run").train()
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_tensorboard_without_the_package_is_refused_before_writing(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    with pytest.raises(MissingDependencyError, match="pip install tensorboard"):
        Trainer(TrainConfig(**FAST, tensorboard=True), tree, tmp_path / "run")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    config = tmp_path / "train.yaml"
    config.write_text("max_steps: 2\ntensorboard: true\n")
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["train", str(tree), "--out", str(tmp_path / "cli"), "--config", str(config)]
    )
    assert result.exit_code == MissingDependencyError.exit_code, result.output
    assert "Traceback" not in result.output and "tensorboard" in result.output
