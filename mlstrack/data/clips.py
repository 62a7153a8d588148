"""Clip sampling as TransRMOT does it: short clips of a training video, one expression each.

Every (video, start frame) of the train videos with at least one expression is one item; the
frames are those `refer-kitti.train` lists for the video (all its frames without a list), in
list order, as TransRMOT's loader walks the list. A clip is `length` listed frames from its start,
`interval` list entries apart (in `random_interval` mode each clip draws its interval from
1..`interval`, in `fixed` mode it is always `interval`), never past the video's last listed
frame, and one expression of the video, drawn uniformly. The order of an epoch is a
permutation seeded by (seed, epoch), and every random choice of a clip comes from a generator
seeded by (seed, epoch, position): a step number alone says which clip comes next, which makes
resuming exact. With several processes each rank takes every `world_size`-th item of the same
permutation.

Adapted from TransRMOT's clip sampling (wudongming97/RMOT, datasets/refer_kitti.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlstrack.data.refer_kitti import ReferExpression, ReferKittiIndex
from uecity.core.errors import DatasetError

SAMPLE_MODES = ("random_interval", "fixed")


@dataclass(frozen=True)
class ClipSpec:
    """Clip length in frames, the (largest) frame interval and how the interval is chosen."""

    length: int = 2
    interval: int = 1
    mode: str = "random_interval"

    def __post_init__(self) -> None:
        if self.length < 1 or self.interval < 1:
            raise ValueError("clip length and interval must be >= 1")
        if self.mode not in SAMPLE_MODES:
            raise ValueError(f"sample mode must be one of {SAMPLE_MODES}")


@dataclass(frozen=True)
class ClipStart:
    """A sampled clip: its video, frames and expression, and the generator for its augmentation."""

    video_id: str
    frames: tuple[int, ...]
    expression: ReferExpression
    seed: tuple[int, ...]

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([*self.seed, 1])


class ClipSampler:
    """Which clip a given step trains on (see the module docstring)."""

    def __init__(
        self,
        index: ReferKittiIndex,
        spec: ClipSpec,
        seed: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        videos: list[str] | None = None,
    ) -> None:
        self.index, self.spec, self.seed = index, spec, seed
        self.rank, self.world_size = rank, world_size
        span = (spec.length - 1) * spec.interval
        chosen = videos if videos is not None else index.train_videos
        self.items: list[tuple[str, int]] = []
        for video_id in chosen:
            if not index.expressions.get(video_id):
                continue
            count = len(index.frames_for_training(video_id))
            self.items += [(video_id, start) for start in range(max(count - span, 1))]
        if len(self.items) < world_size:
            raise DatasetError(
                f"no training clips: the train videos ({', '.join(chosen) or 'none'}) need frames "
                "and at least one expression each",
                path=index.root,
            )

    @property
    def steps_per_epoch(self) -> int:
        """Clips each rank sees in one epoch (the remainder of an uneven split is dropped)."""
        return len(self.items) // self.world_size

    def clip(self, step: int) -> ClipStart:
        """The clip of training step `step` (0-based) on this rank."""
        epoch, position = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.items))
        item = int(order[position * self.world_size + self.rank])
        video_id, start = self.items[item]
        seed = (self.seed, epoch, item)
        rng = np.random.default_rng(list(seed))
        interval = self.spec.interval
        if self.spec.mode == "random_interval":
            interval = int(rng.integers(1, self.spec.interval + 1))
        listed = self.index.frames_for_training(video_id)
        last = len(listed) - 1
        frames = tuple(listed[min(start + k * interval, last)] for k in range(self.spec.length))
        expressions = self.index.expressions[video_id]
        expression = expressions[int(rng.integers(len(expressions)))]
        return ClipStart(video_id, frames, expression, seed)
