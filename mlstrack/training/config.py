"""`TrainConfig`: every setting of a training run, from a YAML file plus command-line overrides.

Defaults are TransRMOT's / the MLS-Track paper's (§5.1): AdamW, lr 1e-4, backbone 1e-5, the
deformable sampling-offset projections ×0.1, weight decay 1e-4, gradient clip 0.1, one LR drop
(×0.1) at half the run, clips of 2 frames with interval 1, multi-scale training (short side
608–992, long side ≤ 1536), flip and crop, track-query drop 0.1 and false-positive insertion
0.3. The file is checked strictly: an unknown key is an error naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlstrack.config import Preset
from mlstrack.errors import ModelConfigError
from mlstrack.tracker_config import TrackerConfig
from uecity.core.errors import SpecError
from uecity.core.record_io import load_yaml, validate_record

PAPER_SHORT_SIDES = tuple(range(608, 993, 32))


class TrainConfig(BaseModel):
    """A training run. Every field is documented; see docs/train.md for the file format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- model -------------------------------------------------------------------------
    preset: Preset = Field(
        default="tiny",
        description="MLSTrackConfig preset (`mlstrack.config.PRESETS`): tiny (CPU demos), paper "
        "(pretrained parts by hub name or path), paper-random (paper sizes, random weights).",
    )
    variant: Literal["transrmot", "sgm", "sgm_scb"] = Field(
        default="sgm_scb", description="Table 3 row: TransRMOT*, +SGM, +SGM+SCB (MLS-Track)."
    )
    model: dict[str, Any] = Field(
        default_factory=dict,
        description="Further MLSTrackConfig fields, e.g. "
        "{text_encoder_name: /models/roberta-base}.",
    )
    tracker: dict[str, Any] = Field(
        default_factory=dict,
        description="TrackerConfig thresholds stored with the model (RUN/model/tracker.json) "
        "until a calibration replaces them, e.g. {refer_threshold: 0.4}.",
    )
    init_from_deformable_detr: str | None = Field(
        default=None, description="Start from COCO Deformable-DETR weights (hub name or folder)."
    )

    # --- optimisation ------------------------------------------------------------------
    max_steps: int = Field(default=1000, ge=1, description="Training steps (one clip each).")
    lr: float = Field(default=1e-4, gt=0, description="AdamW learning rate of most parameters.")
    lr_backbone: float = Field(default=1e-5, ge=0, description="Learning rate of the ResNet.")
    lr_linear_proj_mult: float = Field(
        default=0.1,
        ge=0,
        description="Factor on lr for deformable attention's sampling-offset projections "
        "and the queries' reference-box projection (Deformable-DETR's lr_linear_proj_names "
        "sampling_offsets and reference_points, 0.1).",
    )
    weight_decay: float = Field(default=1e-4, ge=0, description="AdamW weight decay.")
    lr_drop_step: int | None = Field(
        default=None,
        ge=1,
        description="Step at which the LR is multiplied by lr_drop_factor "
        "(None: half of max_steps, TransRMOT's drop at half the epochs).",
    )
    lr_drop_factor: float = Field(default=0.1, gt=0, le=1, description="The LR drop's factor.")
    clip_max_norm: float = Field(
        default=0.1, ge=0, description="Gradient-norm clip (0 turns clipping off)."
    )

    # --- data --------------------------------------------------------------------------
    clip_length: int = Field(default=2, ge=1, description="Frames per training clip.")
    clip_length_schedule: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Longer clips later in training, MOTR's sampler_steps / sampler_lengths: "
        "(step, length) pairs, from each step on clips are that long (clip_length before the "
        "first), e.g. [[3000, 3], [4500, 4]].",
    )
    sample_interval: int = Field(default=1, ge=1, description="Largest frame interval in a clip.")
    sample_mode: Literal["random_interval", "fixed"] = Field(
        default="random_interval", description="Interval drawn from 1..sample_interval, or fixed."
    )
    train_short_sides: list[int] | None = Field(
        default=None,
        description="Short sides for multi-scale training; None: the preset's "
        "default (paper: 608..992 step 32; tiny: the frames' own size). [] keeps the size.",
    )
    max_size: int | None = Field(
        default=None, ge=16, description="Cap on the long side (None: paper 1536, tiny none)."
    )
    test_short_side: int | None = Field(
        default=None,
        ge=16,
        description="Short side at inference (None: paper 800, tiny the "
        "frames' own size). Stored in the run for `uecity track`.",
    )
    hflip_prob: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Horizontal flip probability (the sentence's left/right are swapped with it).",
    )
    crop_prob: float = Field(default=0.5, ge=0, le=1, description="Random crop probability.")
    crop_min_fraction: float = Field(
        default=0.6, gt=0, le=1, description="Smallest crop side / image side."
    )
    track_drop_prob: float = Field(
        default=0.1, ge=0, le=1, description="Chance to drop each track query (TransRMOT)."
    )
    false_positive_prob: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Chance to insert an unmatched detect query as a false-positive track.",
    )
    drifted_as_false_positives: bool = Field(
        default=False,
        description="A query paired with an object under the IoU gate (0.5) joins the next "
        "frame as a false-positive track instead of vanishing (not in TransRMOT).",
    )

    # --- run ---------------------------------------------------------------------------
    calibration_videos: int = Field(
        default=0,
        ge=0,
        description="Training videos held out of training (the last ones of the train split) "
        "to calibrate the tracker's thresholds on after training (mlstrack.calibration).",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the run (model init, data, drops).")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: cuda when available."
    )
    num_threads: int = Field(
        default=1,
        ge=1,
        description="torch threads on CPU (1 is fastest for tiny on small machines).",
    )
    amp: bool = Field(default=True, description="Mixed precision on CUDA (ignored on CPU).")
    checkpoint_every: int = Field(default=500, ge=1, description="Steps between checkpoints.")
    keep_checkpoints: int = Field(default=2, ge=1, description="Checkpoints kept (newest).")
    log_every: int = Field(default=10, ge=1, description="Steps between CSV log rows.")
    tensorboard: bool = Field(
        default=False,
        description="Also log the scalars to RUN/tensorboard/; needs the `tensorboard` extra "
        "(pip install tensorboard), and a run asking for it without it is refused.",
    )

    @field_validator("tracker")
    @classmethod
    def _check_tracker(cls, values: dict[str, Any]) -> dict[str, Any]:
        try:
            TrackerConfig.from_dict(values)
        except ModelConfigError as error:
            text = f"{error.field}: {error.args[0]}" if error.field else error.args[0]
            raise ValueError(text) from None
        return values

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.lr_drop_step is not None and self.lr_drop_step > self.max_steps:
            raise ValueError("lr_drop_step must be <= max_steps")
        if self.train_short_sides is not None and any(s < 16 for s in self.train_short_sides):
            raise ValueError("train_short_sides must be >= 16")
        steps = [step for step, _ in self.clip_length_schedule]
        if any(step < 1 for step in steps) or steps != sorted(set(steps)):
            raise ValueError("clip_length_schedule: steps must be >= 1 and increasing")
        if any(length < 1 for _, length in self.clip_length_schedule):
            raise ValueError("clip_length_schedule: lengths must be >= 1")
        return self

    # --- derived -----------------------------------------------------------------------
    @property
    def is_paper(self) -> bool:
        return self.preset != "tiny"

    def resolved_short_sides(self) -> tuple[int, ...] | None:
        if self.train_short_sides is None:
            return PAPER_SHORT_SIDES if self.is_paper else None
        return tuple(self.train_short_sides) or None

    def resolved_max_size(self) -> int | None:
        return self.max_size if self.max_size is not None else (1536 if self.is_paper else None)

    def resolved_test_short_side(self) -> int | None:
        if self.test_short_side is not None:
            return self.test_short_side
        return 800 if self.is_paper else None

    def clip_lengths(self) -> list[tuple[int, int]]:
        """(first step, clip length) of each phase of training, in order."""
        return [(0, self.clip_length), *self.clip_length_schedule]

    def clip_length_at(self, step: int) -> int:
        """The clip length of (0-based) training step `step`."""
        return [length for start, length in self.clip_lengths() if start <= step][-1]

    def resolved_lr_drop_step(self) -> int:
        return self.lr_drop_step if self.lr_drop_step is not None else max(1, self.max_steps // 2)

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig.from_dict(self.tracker)

    def model_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"variant": self.variant}
        if self.init_from_deformable_detr:
            settings["backbone_pretrained"] = True  # its ResNet comes with the COCO weights
        return {**settings, **self.model}


def load_train_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The config of `path` (YAML; None: defaults) with `overrides` (None values ignored)."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise SpecError("config file not found", path=path)
        loaded = load_yaml(path, what="config")
        if loaded is not None and not isinstance(loaded, dict):
            raise SpecError("expected a mapping of TrainConfig fields", path=path)
        values.update(loaded or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate_record(values, TrainConfig, path=path, what="train config")
