"""Reading Refer-KITTI trees (ours and the original) for training, tracking and evaluation."""

from mlstrack.data.clips import ClipSampler, ClipSpec, ClipStart
from mlstrack.data.refer_kitti import FrameLabels, ReferExpression, ReferKittiIndex, VideoIndex
from mlstrack.data.transforms import AugmentConfig, Clip, collate_clips, load_clip

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
