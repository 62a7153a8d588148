"""The trainer: a smoke run, exact resume, config files, track noise."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import SetCriterion
from mlstrack.model import MLSTrack
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState
from mlstrack.training import TrainConfig, Trainer, load_train_config
from mlstrack.training.track_noise import FALSE_POSITIVE_ID_BASE, noisy_training_tracks
from mlstrack.training.trainer import parameter_groups
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.errors import SpecError, UsageError

FAST = {"max_steps": 4, "checkpoint_every": 2, "log_every": 1, "tensorboard": False}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("data") / "rk")


def test_smoke_run_writes_checkpoints_log_and_model(tree: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = Trainer(TrainConfig(**FAST), tree, run)
    result = trainer.train()
    assert result.steps == 4 and all(np.isfinite(log.loss) for log in result.logs)
    assert [p.name for p in trainer.checkpoints()] == ["step-0000002", "step-0000004"]
    assert (run / "model" / "config.json").is_file() and (run / "train_config.yaml").is_file()
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5])
    assert len(trainer.text_cache) >= 1  # frozen text features are cached per sentence


def test_the_lr_drops_once(tree: Path, tmp_path: Path) -> None:
    config = TrainConfig(**{**FAST, "max_steps": 5}, lr_drop_step=2)
    logs = Trainer(config, tree, tmp_path / "run").train().logs
    assert [log.lr for log in logs] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-5])


def test_resume_is_exact(tree: Path, tmp_path: Path) -> None:
    config = TrainConfig(**FAST, track_drop_prob=0.5, false_positive_prob=0.5)
    Trainer(config, tree, tmp_path / "once").train()
    Trainer(config, tree, tmp_path / "twice").train(stop_at=2)
    resumed = Trainer(config, tree, tmp_path / "twice")
    assert resumed.resumed_from == 2
    resumed.train()
    once = load_file(str(tmp_path / "once" / "model" / "model.safetensors"))
    twice = load_file(str(tmp_path / "twice" / "model" / "model.safetensors"))
    assert once.keys() == twice.keys()
    for key in once:
        torch.testing.assert_close(once[key], twice[key], rtol=0, atol=0, msg=key)
    rows = list(csv.DictReader((tmp_path / "twice" / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]


def test_a_run_folder_with_another_config_is_refused(tree: Path, tmp_path: Path) -> None:
    Trainer(TrainConfig(**FAST), tree, tmp_path / "run").train(stop_at=1)
    with pytest.raises(UsageError, match="variant"):
        Trainer(TrainConfig(**FAST, variant="sgm"), tree, tmp_path / "run")


def test_parameter_groups_follow_the_paper(tiny_config: MLSTrackConfig) -> None:
    groups = parameter_groups(MLSTrack(tiny_config), TrainConfig())
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"rest": 1e-4, "backbone": 1e-5, "linear_proj": pytest.approx(1e-5)}
    assert all(len(g["params"]) for g in groups)


def test_config_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("max_steps: 10\nlr: 0.001\nmodel: {refer_threshold: 0.4}\n")
    config = load_train_config(path, {"max_steps": 20, "seed": None})
    assert config.max_steps == 20 and config.lr == 0.001 and config.seed == 0
    assert config.resolved_lr_drop_step() == 10
    path.write_text("max_step: 10\n")
    with pytest.raises(SpecError) as error:
        load_train_config(path)
    assert "max_step" in str(error.value) and str(path) in str(error.value)
    with pytest.raises(SpecError, match="lr"):
        load_train_config(None, {"lr": -1})


def test_track_noise_drops_and_inserts_false_positives(tiny_config: MLSTrackConfig) -> None:
    torch.manual_seed(0)
    model = MLSTrack(tiny_config).train()
    criterion = SetCriterion(tiny_config)
    text = model.encode_text(["cars"])
    targets = FrameTargets(
        torch.tensor([[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.1, 0.2]]),
        torch.tensor([3, 5]),
        torch.tensor([1.0, 0.0]),
    )
    track = TrackState.empty(tiny_config.d_model)
    outputs = model(torch.rand(1, 3, 64, 96), text, track)
    assignment = criterion.assign(outputs, targets, track.ids)
    rng = np.random.default_rng(0)
    kept = noisy_training_tracks(
        model.query_interaction, outputs, targets, assignment, track, rng, 0.0, 0.0
    )
    assert sorted(kept.ids.tolist()) == [3, 5]
    dropped = noisy_training_tracks(
        model.query_interaction, outputs, targets, assignment, track, rng, 1.0, 1.0
    )
    assert dropped.ids.tolist() == [FALSE_POSITIVE_ID_BASE]
    assert dropped.next_id == FALSE_POSITIVE_ID_BASE + 1
