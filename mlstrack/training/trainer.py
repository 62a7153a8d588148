"""The training loop: clips of a Refer-KITTI tree → MLS-Track weights, with exact resume.

Recipe of `Trainer.train`: open the tree → build the model (seeded) → AdamW with three parameter
groups (backbone 1e-5, sampling-offset projections lr × 0.1, the rest 1e-4) and a step LR drop →
resume from the newest checkpoint of the run if there is one → for each step: the step's clip
(the step number decides it, see `mlstrack.data.clips`), the frozen text features from the
per-sentence cache, frame after frame forward + criterion with track queries carried on (random
drops and false positives added), backward, gradients averaged over ranks, clipped, optimiser
and scheduler step → CSV / TensorBoard log → a checkpoint every N steps → the final model as a
`save_pretrained` folder in `RUN/model`.

Checkpoints (`RUN/checkpoints/step-NNNNNNN/`) hold the model (`model/`, a `save_pretrained`
folder) and `trainer_state.pt`: optimiser, scheduler, AMP scaler, the torch / numpy / python RNG
states and the step, which is the data position. Each is written to a temporary folder and
renamed, so a killed run leaves whole checkpoints only. Under torchrun (WORLD_SIZE > 1) the
process group is initialised from the environment, each rank trains on its own share of the
clips, gradients are all-reduced, and only rank 0 writes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn

from mlstrack.checkpoint import CheckpointError, save_pretrained
from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import LOSS_NAMES, SetCriterion, disappeared_tracks
from mlstrack.data.clips import ClipSampler, ClipSpec
from mlstrack.data.refer_kitti import ReferKittiIndex
from mlstrack.data.transforms import AugmentConfig, Clip, load_clip
from mlstrack.model import MLSTrack
from mlstrack.text_encoders import TextFeatures, word_vocabulary
from mlstrack.track_state import TrackState
from mlstrack.tracker_config import write_tracker_config
from mlstrack.training.config import TrainConfig
from mlstrack.training.track_noise import noisy_training_tracks
from uecity.core.atomic import atomic_folder, atomic_write_text, is_temporary, remove_temporaries
from uecity.core.errors import DatasetError, MissingDependencyError, UsageError
from uecity.core.progress import ProgressEvent, ProgressFn
from uecity.core.record_io import load_yaml

logger = logging.getLogger(__name__)

CONFIG_FILE = "train_config.yaml"
LOG_FILE = "log.csv"
TENSORBOARD_DIR = "tensorboard"  # with tensorboard: true
DIAGNOSTICS_LOG = "diagnostics.csv"  # held-out, threshold-free, at each checkpoint
MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "trainer_state.pt"
LINEAR_PROJ_NAMES = ("sampling_offsets", "reference_box")
# fields that may change between a run and its resumption
RESUMABLE_CHANGES = {
    "max_steps",
    "checkpoint_every",
    "keep_checkpoints",
    "log_every",
    "device",
    "num_threads",
    "tensorboard",
    "amp",
    "tracker",  # thresholds of tracking, not of training: stored with the final model
}


@dataclass(frozen=True)
class StepLog:
    """One training step: its number (1-based after the step), epoch, LRs, weighted total loss
    and the main (last-layer, unweighted) loss terms."""

    step: int
    epoch: int
    lr: float
    lr_backbone: float
    loss: float
    terms: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_dir: Path | None
    steps: int
    resumed_from: int
    last: StepLog | None
    seconds: float
    logs: list[StepLog] = field(default_factory=list)


def split_calibration(index: ReferKittiIndex, count: int) -> tuple[ReferKittiIndex, list[str]]:
    """(the index training sees, the held-out calibration videos): the last `count` train
    videos are held out; at least one video is left to train on."""
    if count == 0:
        return index, []
    if count >= len(index.train_videos):
        raise UsageError(
            f"calibration_videos {count} leaves no training video ({len(index.train_videos)} "
            "train videos); lower it or set it to 0"
        )
    kept, held = index.train_videos[:-count], index.train_videos[-count:]
    return dataclasses.replace(index, train_videos=kept), held


def model_config(config: TrainConfig, index: ReferKittiIndex | None = None) -> MLSTrackConfig:
    """The MLSTrackConfig a TrainConfig asks for; a word-level text encoder without a
    vocabulary gets the words of `index`'s training sentences (and their flips)."""
    model = MLSTrackConfig.preset(config.preset, **config.model_settings())
    if model.trainable_text and model.word_vocabulary is None and index is not None:
        sentences = [e.sentence for v in index.train_videos for e in index.expressions[v]]
        model = model.replace(word_vocabulary=word_vocabulary(sentences))
        logger.info(
            "word vocabulary: %d words from %d training sentences",
            len(model.word_vocabulary or ()),
            len(sentences),
        )
    return model


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); the process group is initialised under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)  # before NCCL, or every rank talks through GPU 0
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size(), local_rank


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """AdamW groups: the rest (lr), a pretrained backbone (lr_backbone; a random one trains at
    lr with the rest), the deformable attention's sampling offsets and the query reference
    boxes (lr × lr_linear_proj_mult). Frozen parameters are left out."""
    rest, backbone, linear = [], [], []
    pretrained_backbone = getattr(model, "config", None) is None or model.config.backbone_pretrained
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.startswith("backbone.resnet.") and pretrained_backbone:
            backbone.append(parameter)
        elif any(key in name for key in LINEAR_PROJ_NAMES):
            linear.append(parameter)
        else:
            rest.append(parameter)
    return [
        {"params": rest, "lr": config.lr, "name": "rest"},
        {"params": backbone, "lr": config.lr_backbone, "name": "backbone"},
        {"params": linear, "lr": config.lr * config.lr_linear_proj_mult, "name": "linear_proj"},
    ]


class Trainer:
    """Trains one run folder; constructing it resumes from the run's newest checkpoint."""

    def __init__(
        self,
        config: TrainConfig,
        data_root: str | Path,
        run_dir: str | Path,
        *,
        index: ReferKittiIndex | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.rank, self.world_size, local_rank = _distributed()
        self.device = self._device(local_rank)
        if self.device.type == "cpu":
            torch.set_num_threads(config.num_threads)
        full = index if index is not None else ReferKittiIndex.open(data_root)
        self.held_out_index = full
        self.index, self.calibration_videos = split_calibration(full, config.calibration_videos)
        # one sampler per clip length of the schedule; a step number alone still says its clip
        self.samplers = {
            length: ClipSampler(
                self.index,
                ClipSpec(length, config.sample_interval, config.sample_mode),
                config.seed,
                rank=self.rank,
                world_size=self.world_size,
            )
            for _, length in config.clip_lengths()
        }
        self.augment = AugmentConfig(
            config.resolved_short_sides(),
            config.resolved_max_size(),
            config.hflip_prob,
            config.crop_prob,
            config.crop_min_fraction,
        )
        self._check_run_folder()
        torch.manual_seed(config.seed)
        self.model = MLSTrack(model_config(config, self.index)).to(self.device)
        if config.init_from_deformable_detr:
            from mlstrack.checkpoint import init_from_deformable_detr

            report = init_from_deformable_detr(self.model, config.init_from_deformable_detr)
            logger.info("Deformable-DETR init: %s", report.summary())
        self.criterion = SetCriterion(self.model.config)
        # fused: one kernel for all parameters; on a CPU the default for-loop path costs ~4×
        # as much (~6 % of a tiny step)
        self.optimiser = torch.optim.AdamW(
            parameter_groups(self.model, config),
            lr=config.lr,
            weight_decay=config.weight_decay,
            fused=self.device.type in ("cpu", "cuda"),
        )
        # one drop (TransRMOT's at half the epochs), not one every N steps
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimiser, milestones=[config.resolved_lr_drop_step()], gamma=config.lr_drop_factor
        )
        self.use_amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.text_cache: dict[str, TextFeatures] = {}
        self.step = 0
        self.resumed_from = self._resume()
        self._start_run()

    # --- setup ----------------------------------------------------------------------------
    def _device(self, local_rank: int) -> torch.device:
        wanted = self.config.device
        if wanted == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for, but no CUDA device is available")
        if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
            return torch.device("cuda", local_rank)
        return torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _check_run_folder(self) -> None:
        """Rank 0 checks the run folder; the other ranks wait for it (if rank 0 fails, torchrun
        ends them). Nothing is written until the whole run is known to start (`_start_run`)."""
        if self.is_main:
            self._check_config()
            self._check_labels()
            if self.config.tensorboard:
                _require_tensorboard()
        self._barrier()

    def _check_labels(self) -> None:
        """Refuse train videos without label files (training on no boxes teaches nothing)."""
        unlabelled = [
            video_id
            for video_id in self.index.train_videos
            if not any(self.index.videos[video_id].label_folder.glob("*.txt"))
        ]
        if unlabelled:
            raise DatasetError(
                f"no label files for train video(s) {', '.join(unlabelled[:5])} under "
                f"labels_with_ids/ (expected <video>/000000.txt, ...): is this a complete "
                "Refer-KITTI tree?",
                path=self.index.root,
            )

    def _start_run(self) -> None:
        """Rank 0, once everything has been checked and built: sweep what an interrupted run
        left half-written and record the config (the run folder's marker)."""
        if not self.is_main:
            return
        for leftover in remove_temporaries(self.run_dir):
            logger.info("removed %s, left by an interrupted run", leftover)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.run_dir / CONFIG_FILE,
            yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False),
        )

    def _check_config(self) -> None:
        saved = self.run_dir / CONFIG_FILE
        if saved.is_file():
            previous = load_yaml(saved, what="run's train config") or {}
            current = self.config.model_dump(mode="json")
            changed = sorted(
                k
                for k in set(previous) | set(current)
                if k not in RESUMABLE_CHANGES and previous.get(k) != current.get(k)
            )
            if changed:
                raise UsageError(
                    f"{self.run_dir} holds a run with a different config ({', '.join(changed)} "
                    "differ); resume it with the same settings or choose a new --out"
                )
        elif self.run_dir.exists() and not all(is_temporary(p) for p in self.run_dir.iterdir()):
            raise UsageError(f"--out {self.run_dir} is not empty and holds no training run")

    # --- checkpoints ----------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        folder = self.run_dir / CHECKPOINT_DIR
        if not folder.is_dir():
            return []
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file()
        )

    def save_checkpoint(self) -> Path | None:
        """Write RUN/checkpoints/step-NNNNNNN atomically (rank 0) and prune old ones."""
        if not self.is_main:
            return None
        final = self.run_dir / CHECKPOINT_DIR / f"step-{self.step:07d}"
        with atomic_folder(final) as temporary:
            self._write_checkpoint(temporary)
        for old in self.checkpoints()[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        logger.info("checkpoint %s", final)
        return final

    def _write_checkpoint(self, folder: Path) -> None:
        save_pretrained(self.model, folder / MODEL_DIR)
        state = {
            "step": self.step,
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
        }
        torch.save(state, folder / STATE_FILE)

    def _resume(self) -> int:
        found = self.checkpoints()
        if not found:
            return 0
        latest = found[-1]
        from safetensors.torch import load_file

        try:
            weights = load_file(str(latest / MODEL_DIR / "model.safetensors"))
            self.model.load_state_dict(weights)
            state = torch.load(latest / STATE_FILE, map_location="cpu", weights_only=False)
            self.optimiser.load_state_dict(state["optimiser"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            raise CheckpointError(
                f"cannot resume from this checkpoint ({error})", path=latest
            ) from None
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        self.step = int(state["step"])
        logger.info("resumed %s at step %d", self.run_dir, self.step)
        return self.step

    # --- one step -------------------------------------------------------------------------
    def text_features(self, sentence: str) -> TextFeatures:
        """The frozen encoders' output for `sentence`, computed once per sentence."""
        cached = self.text_cache.get(sentence)
        if cached is None:
            cached = self.model.encode_text([sentence]).to(self.device)
            self.text_cache[sentence] = cached
        return cached

    def clip_loss(
        self, clip: Clip, rng: np.random.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted loss of a clip and its main loss terms: the frames' loss sums divided by the
        clip's objects plus disappeared tracks (TransRMOT's `ClipMatcher` normalisation)."""
        config = self.config
        text = self.text_features(clip.sentence)
        track = TrackState.empty(self.model.config.d_model, self.device)
        total = torch.zeros((), device=self.device)
        sums = dict.fromkeys(LOSS_NAMES, 0.0)
        count = 0
        last = len(clip.images) - 1
        for t, (image, targets) in enumerate(zip(clip.images, clip.targets, strict=True)):
            targets = targets.to(self.device)
            count += len(targets) + disappeared_tracks(targets, track.ids)
            with torch.autocast("cuda", enabled=self.use_amp):
                outputs = self.model(image[None].to(self.device), text, track)
                assignment = self.criterion.assign(outputs, targets, track.ids)
                losses = self.criterion(outputs, targets, track.ids, assignment, normaliser=1.0)
                total = total + self.criterion.total(losses)
            for name in LOSS_NAMES:
                sums[name] += float(losses[name].detach())
            if t < last:
                track = noisy_training_tracks(
                    self.model.query_interaction,
                    outputs,
                    targets,
                    assignment,
                    track,
                    rng,
                    config.track_drop_prob,
                    config.false_positive_prob,
                    drifted_as_false_positives=config.drifted_as_false_positives,
                )
        count = max(count, 1)
        return total / count, {name: value / count for name, value in sums.items()}

    def _all_reduce_gradients(self) -> None:
        for parameter in self.model.parameters():
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            dist.all_reduce(parameter.grad)
            parameter.grad /= self.world_size

    def _broadcast_buffers(self) -> None:
        """Rank 0's buffers to every rank, as DDP's `broadcast_buffers` does: the ranks see
        different clips, so running statistics (ordinary batch norm) would drift apart although
        the all-reduced gradients keep the parameters equal."""
        for buffer in self.model.buffers():
            dist.broadcast(buffer, src=0)

    def sampler_at(self, step: int) -> ClipSampler:
        """The clip sampler of (0-based) step `step`: its clip length follows the schedule."""
        return self.samplers[self.config.clip_length_at(step)]

    def train_step(self) -> StepLog:
        started = time.perf_counter()
        sampler = self.sampler_at(self.step)
        start = sampler.clip(self.step)
        clip = load_clip(self.index, start, self.augment)
        rng = np.random.default_rng([*start.seed, 2])
        self.model.train()
        loss, terms = self.clip_loss(clip, rng)
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.world_size > 1:
            self._all_reduce_gradients()
        self.scaler.unscale_(self.optimiser)
        if self.config.clip_max_norm > 0:
            nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.requires_grad], self.config.clip_max_norm
            )
        self.scaler.step(self.optimiser)
        self.scaler.update()
        if self.world_size > 1:
            self._broadcast_buffers()
        lrs = [group["lr"] for group in self.optimiser.param_groups]
        self.scheduler.step()
        epoch = self.step // sampler.steps_per_epoch
        self.step += 1
        return StepLog(
            self.step,
            epoch,
            lrs[0],
            lrs[1],
            float(loss.detach()),
            terms,
            time.perf_counter() - started,
        )

    # --- the loop -------------------------------------------------------------------------
    def train(self, progress: ProgressFn | None = None, stop_at: int | None = None) -> TrainResult:
        """Train up to `max_steps` (or `stop_at`, to simulate an interruption), reporting each
        step's loss and loss terms to `progress` (task "train")."""
        started = time.perf_counter()
        until = min(self.config.max_steps, stop_at or self.config.max_steps)
        logs: list[StepLog] = []
        writer = (
            _LogWriter(self.run_dir, self.step, self.config.tensorboard) if self.is_main else None
        )
        last: StepLog | None = None
        try:
            while self.step < until:
                last = self.train_step()
                logs.append(last)
                if not np.isfinite(last.loss):
                    raise FloatingPointError(f"the loss became {last.loss} at step {last.step}")
                if writer is not None and (
                    last.step % self.config.log_every == 0 or last.step == until
                ):
                    writer.write(last)
                if progress is not None and self.is_main:
                    terms = {k.removeprefix("loss_"): v for k, v in last.terms.items()}
                    values = {"loss": last.loss, **terms}
                    progress(ProgressEvent("train", last.step, self.config.max_steps, "", values))
                if self.step % self.config.checkpoint_every == 0 or self.step == until:
                    self.save_checkpoint()
                    self._held_out_diagnostics()
                    self._barrier()
        finally:
            if writer is not None:
                writer.close()
        model_dir = None
        if self.step >= self.config.max_steps and self.is_main:
            model_dir = self._save_final()
        self._barrier()
        return TrainResult(
            self.run_dir,
            model_dir,
            self.step,
            self.resumed_from,
            last,
            time.perf_counter() - started,
            logs,
        )

    def _held_out_diagnostics(self) -> None:
        """At a checkpoint, threshold-free single-frame diagnostics on the held-out calibration
        videos, appended to RUN/diagnostics.csv (rank 0; nothing without held-out videos)."""
        if not self.is_main or not self.calibration_videos:
            return
        from mlstrack.evaluation.diagnostics import query_diagnostics

        values = query_diagnostics(self.model, self.held_out_index, self.calibration_videos, 1)
        path = self.run_dir / DIAGNOSTICS_LOG
        rows = []
        if path.is_file():  # a resumed run forgets the rows after its checkpoint
            with path.open(newline="", encoding="utf-8") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) < self.step]
        rows.append(
            {"step": self.step, **{k: "" if v is None else f"{v:.4f}" for k, v in values.items()}}
        )
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["step", *values])
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, text.getvalue())
        logger.info("held-out diagnostics at step %d: %s", self.step, values)

    def _save_final(self) -> Path:
        final = self.run_dir / MODEL_DIR
        with atomic_folder(final) as temporary:
            save_pretrained(self.model, temporary)
            atomic_write_text(
                temporary / "inference.yaml",
                yaml.safe_dump(
                    {
                        "test_short_side": self.config.resolved_test_short_side(),
                        "max_size": self.config.resolved_max_size(),
                    }
                ),
            )
            write_tracker_config(self.config.tracker_config(), temporary)
        return final

    def _barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def _require_tensorboard() -> None:
    """`tensorboard: true` without the package is refused before anything is written, rather
    than a run that silently logs nowhere."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError(
            f"tensorboard: true needs the tensorboard package ({error}); install it with "
            "`pip install tensorboard` (the `tensorboard` extra), or set tensorboard: false "
            "(RUN/log.csv has the same scalars)"
        ) from error


class _LogWriter:
    """CSV rows (and TensorBoard scalars, when the config asks for them) of the logged steps."""

    COLUMNS: tuple[str, ...] = (
        "step",
        "epoch",
        "lr",
        "lr_backbone",
        "loss",
        *LOSS_NAMES,
        "seconds",
    )

    def __init__(self, run_dir: Path, resumed_step: int, tensorboard: bool) -> None:
        path = run_dir / LOG_FILE
        kept: list[list[str]] = []
        if path.is_file():  # a resumed run forgets the rows logged after its checkpoint
            with path.open(newline="", encoding="utf-8") as handle:
                kept = [
                    row
                    for row in list(csv.reader(handle))[1:]
                    if row and int(row[0]) <= resumed_step
                ]
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.csv = csv.writer(self.handle)
        self.csv.writerow(self.COLUMNS)
        self.csv.writerows(kept)
        self.handle.flush()
        self.board = None
        if tensorboard:  # checked by `_require_tensorboard` before the run started
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(run_dir / TENSORBOARD_DIR))

    def write(self, log: StepLog) -> None:
        self.csv.writerow(
            [
                log.step,
                log.epoch,
                f"{log.lr:.3g}",
                f"{log.lr_backbone:.3g}",
                f"{log.loss:.6f}",
                *(f"{log.terms[n]:.6f}" for n in LOSS_NAMES),
                f"{log.seconds:.4f}",
            ]
        )
        self.handle.flush()
        if self.board is not None:
            self.board.add_scalar("loss/total", log.loss, log.step)
            for name, value in log.terms.items():
                self.board.add_scalar(f"loss/{name}", value, log.step)
            self.board.add_scalar("lr", log.lr, log.step)

    def close(self) -> None:
        self.handle.close()
        if self.board is not None:
            self.board.close()
