"""The trainer: a smoke run, exact resume, config files, track noise."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import Assignment, SetCriterion, clip_normaliser
from mlstrack.model import MLSTrack
from mlstrack.query_interaction import QueryInteraction
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState
from mlstrack.training import TrainConfig, Trainer, load_train_config
from mlstrack.training.track_noise import (
    FALSE_POSITIVE_ID,
    false_positive_queries,
    noisy_training_tracks,
)
from mlstrack.training.trainer import parameter_groups
from tests.mlstrack.refer_kitti_tree import write_tree
from uecity.core.errors import SpecError, UsageError

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
    assert all(group["fused"] for group in trainer.optimiser.param_groups)


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
    assert all(group["fused"] for group in resumed.optimiser.param_groups)
    resumed.train()
    once = load_file(str(tmp_path / "once" / "model" / "model.safetensors"))
    twice = load_file(str(tmp_path / "twice" / "model" / "model.safetensors"))
    assert once.keys() == twice.keys()
    for key in once:
        torch.testing.assert_close(once[key], twice[key], rtol=0, atol=0, msg=key)
    rows = list(csv.DictReader((tmp_path / "twice" / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]


def test_clips_grow_longer_on_schedule(tree: Path, tmp_path: Path) -> None:
    config = TrainConfig(**{**FAST, "max_steps": 5}, clip_length_schedule=[(2, 3), (4, 4)])
    trainer = Trainer(config, tree, tmp_path / "run")
    lengths = [len(trainer.sampler_at(step).clip(step).frames) for step in range(5)]
    assert lengths == [2, 2, 3, 3, 4]
    seen: list[int] = []
    original = trainer.clip_loss
    trainer.clip_loss = lambda clip, rng: (seen.append(len(clip.images)), original(clip, rng))[1]
    trainer.train()
    assert seen == [2, 2, 3, 3, 4]


@pytest.mark.parametrize(
    "schedule", [[(3, 3), (2, 4)], [(2, 3), (2, 4)], [(0, 3)], [(2, 0)]], ids=str
)
def test_a_clip_length_schedule_out_of_order_is_refused(schedule: list) -> None:
    with pytest.raises(ValidationError, match="clip_length_schedule"):
        TrainConfig(clip_length_schedule=schedule)


def test_a_run_folder_with_another_config_is_refused(tree: Path, tmp_path: Path) -> None:
    Trainer(TrainConfig(**FAST), tree, tmp_path / "run").train(stop_at=1)
    with pytest.raises(UsageError, match="variant"):
        Trainer(TrainConfig(**FAST, variant="sgm"), tree, tmp_path / "run")


def test_parameter_groups_follow_the_paper(tiny_config: MLSTrackConfig) -> None:
    groups = parameter_groups(
        MLSTrack(tiny_config.replace(backbone_pretrained=True)), TrainConfig()
    )
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"rest": 1e-4, "backbone": 1e-5, "linear_proj": pytest.approx(1e-5)}
    assert all(len(g["params"]) for g in groups)


def test_config_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("max_steps: 10\nlr: 0.001\ntracker: {refer_threshold: 0.4}\n")
    config = load_train_config(path, {"max_steps": 20, "seed": None})
    assert config.max_steps == 20 and config.lr == 0.001 and config.seed == 0
    assert config.resolved_lr_drop_step() == 10
    path.write_text("max_step: 10\n")
    with pytest.raises(SpecError) as error:
        load_train_config(path)
    assert "max_step" in str(error.value) and str(path) in str(error.value)
    with pytest.raises(SpecError, match="lr"):
        load_train_config(None, {"lr": -1})


def _paired_frame(tiny_config: MLSTrackConfig, boxes: torch.Tensor) -> tuple:
    """A model output whose main queries have `boxes` (detect queries only), two objects."""
    torch.manual_seed(0)
    model = MLSTrack(tiny_config).train()
    text = model.encode_text(["cars"])
    track = TrackState.empty(tiny_config.d_model)
    outputs = model(torch.rand(1, 3, 64, 96), text, track)
    outputs["pred_boxes"] = boxes[None].clone()
    targets = FrameTargets(
        torch.tensor([[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.1, 0.2]]),
        torch.tensor([3, 5]),
        torch.tensor([1.0, 0.0]),
    )
    return model, outputs, targets, track


def _boxes(n: int) -> torch.Tensor:
    """n boxes: 0 on object 3, 1 on object 5, 2 near object 3, 3 near object 5, the rest far."""
    boxes = torch.tensor([[0.05, 0.05, 0.02, 0.02]]).repeat(n, 1)
    boxes[0] = torch.tensor([0.3, 0.4, 0.2, 0.3])
    boxes[1] = torch.tensor([0.7, 0.6, 0.1, 0.2])
    boxes[2] = torch.tensor([0.33, 0.42, 0.2, 0.3])
    boxes[3] = torch.tensor([0.72, 0.61, 0.1, 0.2])
    return boxes


def test_false_positives_one_per_active_track_with_the_highest_iou(
    tiny_config: MLSTrackConfig,
) -> None:
    model, outputs, targets, track = _paired_frame(tiny_config, _boxes(tiny_config.num_queries))
    assignment = Assignment(torch.tensor([0, 1]), torch.tensor([0, 1]))
    rng = np.random.default_rng(0)
    kept = noisy_training_tracks(
        model.query_interaction, outputs, targets, assignment, track, rng, 0.0, 0.0
    )
    assert kept.ids.tolist() == [3, 5]
    noisy = noisy_training_tracks(
        model.query_interaction, outputs, targets, assignment, track, rng, 0.0, 1.0
    )
    # TransRMOT's rule: every active track brings the unpaired query overlapping it most
    # (queries 2 and 3), not one false positive per frame; they carry id -1
    assert noisy.ids.tolist() == [3, 5, FALSE_POSITIVE_ID, FALSE_POSITIVE_ID]
    assert torch.allclose(noisy.boxes_cxcywh[2:], outputs["pred_boxes"][0, 2:4])


def test_false_positive_picks_are_counted_once() -> None:
    boxes = _boxes(6)
    boxes[1] = boxes[0]  # both active tracks overlap query 2 most
    outputs = {"pred_boxes": boxes[None]}
    picks = false_positive_queries(
        outputs, torch.tensor([0, 1]), torch.tensor([2, 3, 4, 5]), np.random.default_rng(0), 1.0
    )
    assert picks.tolist() == [2]
    everyone = false_positive_queries(
        outputs, torch.tensor([0, 1]), torch.tensor([4]), np.random.default_rng(0), 1.0
    )
    assert everyone.tolist() == [4]


def test_a_pairing_under_iou_half_does_not_become_a_track(tiny_config: MLSTrackConfig) -> None:
    boxes = _boxes(tiny_config.num_queries)
    boxes[1] = torch.tensor([0.75, 0.6, 0.1, 0.2])  # IoU 1/3 with object 5
    model, outputs, targets, track = _paired_frame(tiny_config, boxes)
    assignment = Assignment(torch.tensor([0, 1]), torch.tensor([0, 1]))
    kept = noisy_training_tracks(
        model.query_interaction, outputs, targets, assignment, track, np.random.default_rng(0), 0, 0
    )
    assert kept.ids.tolist() == [3]
    drifted = noisy_training_tracks(
        model.query_interaction,
        outputs,
        targets,
        assignment,
        track,
        np.random.default_rng(0),
        0,
        0,
        drifted_as_false_positives=True,
    )
    assert drifted.ids.tolist() == [3, FALSE_POSITIVE_ID]  # query 1 stays, as a false positive
    assert torch.allclose(drifted.boxes_cxcywh[1], boxes[1])


def test_false_positive_tracks_may_be_matched_to_a_new_object(tiny_config: MLSTrackConfig) -> None:
    criterion = SetCriterion(tiny_config)
    n = tiny_config.num_queries
    boxes = torch.cat((torch.tensor([[0.05, 0.05, 0.02, 0.02]]).repeat(n, 1), _boxes(4)[:2]))
    outputs = {
        "pred_logits": torch.zeros(1, n + 2, 1),
        "pred_boxes": boxes[None],
        "num_detect": n,
    }
    targets = FrameTargets(
        torch.tensor([[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.1, 0.2]]),
        torch.tensor([3, 5]),
        torch.tensor([1.0, 0.0]),
    )
    # track query n follows object 9 (gone), n + 1 is a false positive sitting on object 5
    assignment = criterion.assign(outputs, targets, torch.tensor([9, FALSE_POSITIVE_ID]))
    pairs = dict(
        zip(assignment.query_index.tolist(), assignment.target_index.tolist(), strict=True)
    )
    assert pairs[n + 1] == 1 and n not in pairs


def test_the_clip_loss_counts_disappeared_tracks(tiny_config: MLSTrackConfig) -> None:
    frames = [
        FrameTargets(torch.rand(2, 4), torch.tensor([3, 5]), torch.zeros(2)),
        FrameTargets(torch.rand(1, 4), torch.tensor([3]), torch.zeros(1)),
    ]
    ids = [torch.zeros(0, dtype=torch.long), torch.tensor([3, 5, FALSE_POSITIVE_ID])]
    # TransRMOT's num_samples: 2 + (1 + 1 disappeared); the false positive is not a track
    assert clip_normaliser(frames, ids) == 4.0


def test_a_random_backbone_trains_whole_at_the_main_lr(tiny_config: MLSTrackConfig) -> None:
    model = MLSTrack(tiny_config)
    resnet = model.backbone.resnet
    assert all(p.requires_grad for p in resnet.parameters())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in resnet.modules())  # per image
    groups = {g["name"]: g for g in parameter_groups(model, TrainConfig(lr=1e-3))}
    assert groups["backbone"]["params"] == [] and groups["rest"]["lr"] == 1e-3
    pretrained = MLSTrack(tiny_config.replace(backbone_pretrained=True))
    assert not any(p.requires_grad for p in pretrained.backbone.resnet.embedder.parameters())
    assert not any(
        isinstance(m, torch.nn.BatchNorm2d) for m in pretrained.backbone.resnet.modules()
    )
    assert parameter_groups(pretrained, TrainConfig())[1]["params"]


def test_initial_boxes_start_small_as_in_deformable_detr(tiny_config: MLSTrackConfig) -> None:
    model = MLSTrack(tiny_config)
    position = model.query_embed.weight[:, : tiny_config.d_model]
    sizes = model.reference_box(position).sigmoid()[:, 2:]
    assert sizes.median() < 0.3  # sigmoid(-2) ≈ 0.12, not 0.5 of the image


def test_the_qim_residual_is_the_previous_query() -> None:
    torch.manual_seed(0)
    qim = QueryInteraction(8, 2, 16, 0.0)
    hidden, pos, feat = torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8)
    with torch.no_grad():
        for module in (qim.feat_update, qim.pos_update):
            module[-1].weight.zero_()
            module[-1].bias.zero_()
    next_pos, next_feat = qim(hidden, pos, feat)
    # with zero updates the next query is the normalised previous query, not the decoder output
    assert torch.allclose(next_feat, torch.nn.functional.layer_norm(feat, (8,)), atol=1e-5)
    assert torch.allclose(next_pos, torch.nn.functional.layer_norm(pos, (8,)), atol=1e-5)


def test_the_referring_loss_covers_matched_pairs_only(tiny_config: MLSTrackConfig) -> None:
    criterion = SetCriterion(tiny_config)
    boxes = torch.tensor([[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.1, 0.2], [0.1, 0.1, 0.1, 0.1]])
    outputs = {
        "pred_logits": torch.zeros(1, 3, 1),
        "pred_boxes": boxes[None],
        "pred_refers": torch.tensor([[[5.0], [-5.0], [9.0]]]),  # query 2 unpaired, confident
        "num_detect": 3,
        "aux_outputs": [],
        "denoising": [],
    }
    targets = FrameTargets(boxes[:2].clone(), torch.tensor([3, 5]), torch.tensor([1.0, 0.0]))
    losses = criterion(
        outputs,
        targets,
        torch.zeros(0, dtype=torch.long),
        Assignment(torch.tensor([0, 1]), torch.tensor([0, 1])),
    )
    assert losses["loss_refer"].item() < 1e-3


def test_the_shipped_demo_config_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_train_config(root / "configs" / "train-tiny-demo.yaml", {})
    assert config.calibration_videos == 2 and config.preset == "tiny"
