"""Loading a clip and its augmentations: horizontal flip (which swaps "left" and "right" in the
sentence), random crop, multi-scale resize; tensors and targets for the model; padding masks.

The same random parameters apply to every frame of a clip, so objects move consistently.
Boxes stay absolute `xyxy` pixels through the augmentations and become the model's normalised
`cxcywh` only at the end, through `uecity.core.box_formats`.

The clip-consistent transforms are adapted from MOTR's / TransRMOT's datasets/transforms.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from mlstrack.data.clips import ClipStart
from mlstrack.data.refer_kitti import FrameLabels, ReferKittiIndex
from mlstrack.targets import FrameTargets
from uecity.core.box_formats import xyxy_to_cxcywh_normalised
from uecity.core.errors import DatasetError

# a crop keeps at least this many pixels per side (or the whole side): the backbone's stride-64
# level needs more than one cell
MIN_CROP_SIDE = 128
_LEFT_RIGHT = re.compile(r"\b(left|right)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AugmentConfig:
    """short_sides: short-side sizes to draw from (None: keep the size); max_size caps the long
    side; hflip_prob, crop_prob: probabilities; crop_min_fraction: smallest crop side as a
    fraction of the image side (but at least `MIN_CROP_SIDE` pixels)."""

    short_sides: tuple[int, ...] | None = None
    max_size: int | None = None
    hflip_prob: float = 0.5
    crop_prob: float = 0.5
    crop_min_fraction: float = 0.6


@dataclass
class Clip:
    """A loaded clip: images (3, H, W) RGB in [0, 1], one `FrameTargets` per frame."""

    images: list[Tensor]
    targets: list[FrameTargets]
    sentence: str
    video_id: str
    expression: str
    frames: tuple[int, ...]


def swap_left_right(sentence: str) -> str:
    """'left' ↔ 'right' as whole words, keeping the case of the first letter."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        other = "right" if word.lower() == "left" else "left"
        if word.isupper():
            return other.upper()
        return other.capitalize() if word[0].isupper() else other

    return _LEFT_RIGHT.sub(swap, sentence)


def read_rgb(path: object) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError("frame cannot be decoded", path=str(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def resized_size(
    width: int, height: int, short_side: int | None, max_size: int | None
) -> tuple[int, int]:
    """(width, height) with the short side at `short_side` and the long side ≤ `max_size`."""
    scale = 1.0
    if short_side is not None:
        scale = short_side / min(width, height)
    if max_size is not None and max(width, height) * scale > max_size:
        scale = max_size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_tensor(image: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 → (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def _flip(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = image.shape[1]
    flipped = boxes.copy()
    flipped[:, 0], flipped[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return image[:, ::-1], flipped


def _crop(
    labels: FrameLabels, image: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, FrameLabels]:
    x, y, w, h = box
    shifted = labels.boxes_xyxy - np.array([x, y, x, y], np.float64)
    shifted[:, 0::2] = shifted[:, 0::2].clip(0, w)
    shifted[:, 1::2] = shifted[:, 1::2].clip(0, h)
    keep = (shifted[:, 2] - shifted[:, 0] >= 1) & (shifted[:, 3] - shifted[:, 1] >= 1)
    return image[y : y + h, x : x + w], FrameLabels(labels.ids[keep], shifted[keep])


def frame_targets(
    labels: FrameLabels, referred: frozenset[int], width: int, height: int
) -> FrameTargets:
    """The model's targets: normalised cxcywh, ids, referred flags."""
    cxcywh = xyxy_to_cxcywh_normalised(labels.boxes_xyxy, width, height).clip(0.0, 1.0)
    flags = [1.0 if int(i) in referred else 0.0 for i in labels.ids]
    return FrameTargets(
        torch.tensor(cxcywh, dtype=torch.float32).reshape(-1, 4),
        torch.tensor(labels.ids, dtype=torch.long),
        torch.tensor(flags, dtype=torch.float32),
    )


def load_clip(index: ReferKittiIndex, start: ClipStart, augment: AugmentConfig | None) -> Clip:
    """Read and augment the clip `start` (its own generator draws every random choice)."""
    rng = start.rng()
    video = index.videos[start.video_id]
    width, height = video.size_wh
    sentence = start.expression.sentence
    flip = augment is not None and rng.random() < augment.hflip_prob
    crop_box = None
    if augment is not None and rng.random() < augment.crop_prob:
        crop_w = max(
            int(width * rng.uniform(augment.crop_min_fraction, 1.0)), min(width, MIN_CROP_SIDE)
        )
        crop_h = max(
            int(height * rng.uniform(augment.crop_min_fraction, 1.0)), min(height, MIN_CROP_SIDE)
        )
        crop_box = (
            int(rng.integers(0, width - crop_w + 1)),
            int(rng.integers(0, height - crop_h + 1)),
            max(crop_w, 1),
            max(crop_h, 1),
        )
    short_side = None
    if augment is not None and augment.short_sides:
        short_side = int(rng.choice(augment.short_sides))
    if flip:
        sentence = swap_left_right(sentence)
    images, targets = [], []
    for frame in start.frames:
        image = read_rgb(video.frame_paths[frame])
        labels = video.labels(frame)
        if flip:
            image, boxes = _flip(image, labels.boxes_xyxy)
            labels = FrameLabels(labels.ids, boxes)
        if crop_box is not None:
            image, labels = _crop(labels, image, crop_box)
        h, w = image.shape[:2]
        new_w, new_h = resized_size(w, h, short_side, augment.max_size if augment else None)
        if (new_w, new_h) != (w, h):
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            scale = np.array([new_w / w, new_h / h, new_w / w, new_h / h])
            labels = FrameLabels(labels.ids, labels.boxes_xyxy * scale)
        images.append(to_tensor(image))
        targets.append(frame_targets(labels, start.expression.referred_at(frame), new_w, new_h))
    return Clip(images, targets, sentence, start.video_id, start.expression.name, start.frames)


def collate_clips(clips: list[Clip]) -> tuple[Tensor, Tensor, list[Clip]]:
    """Pad a batch of clips to one size: images (B, T, 3, H, W), masks (B, T, H, W) True on
    padding, and the clips (their targets are normalised to each frame's unpadded size)."""
    if not clips:
        raise ValueError("collate_clips needs at least one clip")
    length = len(clips[0].images)
    if any(len(c.images) != length for c in clips):
        raise ValueError("every clip of a batch must have the same length")
    height = max(i.shape[1] for c in clips for i in c.images)
    width = max(i.shape[2] for c in clips for i in c.images)
    images = torch.zeros(len(clips), length, 3, height, width)
    masks = torch.ones(len(clips), length, height, width, dtype=torch.bool)
    for b, clip in enumerate(clips):
        for t, image in enumerate(clip.images):
            _, h, w = image.shape
            images[b, t, :, :h, :w] = image
            masks[b, t, :h, :w] = False
    return images, masks, clips
