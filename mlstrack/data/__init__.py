"""Reading Refer-KITTI trees (ours and the original) for training, tracking and evaluation.

The index (`refer_kitti`) and the clip sampler (`clips`) need numpy only, so evaluation imports
them without torch; the clip loader (`transforms`) makes tensors and is imported on first use.
"""

from typing import Any

from mlstrack.data.clips import ClipSampler, ClipSpec, ClipStart
from mlstrack.data.refer_kitti import FrameLabels, ReferExpression, ReferKittiIndex, VideoIndex

_TORCH_NAMES = ("AugmentConfig", "Clip", "collate_clips", "load_clip")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from mlstrack.data import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AugmentConfig",
    "Clip",
    "ClipSampler",
    "ClipSpec",
    "ClipStart",
    "FrameLabels",
    "ReferExpression",
    "ReferKittiIndex",
    "VideoIndex",
    "collate_clips",
    "load_clip",
]
