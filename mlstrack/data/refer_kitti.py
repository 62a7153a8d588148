"""An index of a Refer-KITTI tree: videos, frames, per-frame labels, expressions and splits.

Reads the layout `uecity export --format refer-kitti` writes and the original Refer-KITTI; the
layout itself is defined in `uecity.formats.refer_kitti`. Labels are converted at this edge
from Refer-KITTI's normalised `x1, y1, w, h` to the product's absolute `xyxy` pixels. Splits:
training samples the frames listed in `refer-kitti.train` (its videos and, within each video,
only the listed frames, as TransRMOT's loader does); the test sequences are those of
`seqmap.txt` (`<video>+<expression>` lines, never split on commas), the protocol TransRMOT's
evaluation scores. Without a train list the train videos are those not tested (the published
test videos 0005, 0011, 0013 when there is no seqmap either), all their frames; without a
seqmap there are no test sequences, and tracking or evaluating the test split is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from uecity.core.box_formats import refer_kitti_x1y1wh_normalised_to_xyxy
from uecity.core.errors import DatasetError
from uecity.formats.mot_challenge import read_seqmap, sequence_name
from uecity.formats.refer_kitti import (
    DEFAULT_TEST_VIDEOS,
    KITTI_FPS,
    SEQMAP,
    ReferKittiTree,
    frame_name,
    read_expression_file,
    read_label_file,
    read_native_fps,
    read_native_videos,
    read_train_list,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameLabels:
    """Every box of one frame: ids (M,) int64, boxes_xyxy (M, 4) float64 absolute pixels."""

    ids: np.ndarray
    boxes_xyxy: np.ndarray

    def __post_init__(self) -> None:
        if self.boxes_xyxy.shape != (self.ids.shape[0], 4):
            raise ValueError(f"boxes_xyxy must be ({self.ids.shape[0]}, 4)")

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class ReferExpression:
    """One expression of a video: its sentence and the referred ids per 0-based frame."""

    video_id: str
    name: str
    sentence: str
    label: dict[int, frozenset[int]]
    path: Path

    @property
    def sequence(self) -> str:
        """TrackEval's sequence name, `<video>+<expression>`."""
        return sequence_name(self.video_id, self.name)

    def referred_at(self, frame: int) -> frozenset[int]:
        return self.label.get(frame, frozenset())


@dataclass
class VideoIndex:
    """One video: its frame files (0-based, contiguous), size and label folder."""

    video_id: str
    frame_paths: list[Path]
    label_folder: Path
    _labels: dict[int, FrameLabels] = field(default_factory=dict, repr=False)

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    @cached_property
    def size_wh(self) -> tuple[int, int]:
        image = cv2.imread(str(self.frame_paths[0]), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DatasetError("frame cannot be decoded", path=self.frame_paths[0])
        return int(image.shape[1]), int(image.shape[0])

    def labels(self, frame: int) -> FrameLabels:
        """The boxes of `frame` in absolute xyxy pixels (empty when the label file is absent)."""
        if frame not in self._labels:
            self._labels[frame] = self._read_labels(frame)
        return self._labels[frame]

    def _read_labels(self, frame: int) -> FrameLabels:
        path = self.label_folder / f"{frame_name(frame)}.txt"
        if not path.is_file():
            return FrameLabels(np.zeros(0, np.int64), np.zeros((0, 4)))
        id_array, normalised = read_label_file(path)
        width, height = self.size_wh
        xyxy = refer_kitti_x1y1wh_normalised_to_xyxy(normalised, width, height)
        _, first = np.unique(id_array, return_index=True)  # a duplicated id keeps its first box
        first.sort()
        return FrameLabels(id_array[first], xyxy[first])


def _read_expression(path: Path, video_id: str) -> ReferExpression:
    found = read_expression_file(path)
    return ReferExpression(video_id, path.stem, found.sentence, found.label, path)


@dataclass
class ReferKittiIndex:
    """Everything of a Refer-KITTI tree that training, tracking and evaluation read.

    train_frames: each train video's frames training samples from (`refer-kitti.train`'s, in
    its order; all frames without a list). seqmap: the test sequences, None without a seqmap.
    native_videos: export video → native video id (from `native_ids.json`; empty otherwise).
    fps: export video → frame rate (from `native_ids.json`; `frame_rate` falls back to KITTI's).
    """

    root: Path
    videos: dict[str, VideoIndex]
    expressions: dict[str, list[ReferExpression]]
    train_videos: list[str]
    seqmap: list[tuple[str, str]] | None  # (video, expression name)
    train_frames: dict[str, tuple[int, ...]] = field(default_factory=dict)
    native_videos: dict[str, str] = field(default_factory=dict)
    fps: dict[str, float] = field(default_factory=dict)

    def frame_rate(self, video_id: str) -> float:
        """The video's frames per second: as exported, else KITTI's 10 (the original tree)."""
        return self.fps.get(video_id, KITTI_FPS)

    @property
    def test_sequences(self) -> list[tuple[str, str]]:
        """The (video, expression) pairs of `seqmap.txt`: the sequences tracking and
        evaluation score."""
        if self.seqmap is None:
            raise DatasetError(
                f"no {SEQMAP}: it lists the test sequences to track and score, one "
                "`<video>+<expression>` a line (`uecity export --format refer-kitti` writes it; "
                "for the original Refer-KITTI copy TransRMOT's datasets/data_path/seqmap.txt)",
                path=self.root,
            )
        return self.seqmap

    def frames_for_training(self, video_id: str) -> tuple[int, ...]:
        """The frames of a train video that training samples from, in order."""
        return self.train_frames.get(video_id) or tuple(range(self.videos[video_id].num_frames))

    @classmethod
    def open(cls, root: str | Path) -> ReferKittiIndex:
        tree = ReferKittiTree(Path(root))
        tree.check()
        videos = {
            video_id: VideoIndex(video_id, frames, tree.label_folder(video_id))
            for video_id, frames in tree.video_frames().items()
        }
        expressions = {
            video_id: [_read_expression(p, video_id) for p in tree.expression_paths(video_id)]
            for video_id in videos
        }
        if not any(expressions.values()):
            raise DatasetError("no expressions under expression/<video>/", path=tree.root)
        seqmap = cls._seqmap(tree, expressions)
        train_frames = cls._train_frames(tree, videos, seqmap)
        logger.info(
            "Refer-KITTI tree %s: %d videos, %d train, %s test sequences",
            tree.root,
            len(videos),
            len(train_frames),
            "no" if seqmap is None else len(seqmap),
        )
        return cls(
            tree.root,
            videos,
            expressions,
            sorted(train_frames),
            seqmap,
            train_frames,
            read_native_videos(tree.native_ids),
            read_native_fps(tree.native_ids),
        )

    @staticmethod
    def _seqmap(
        tree: ReferKittiTree, expressions: dict[str, list[ReferExpression]]
    ) -> list[tuple[str, str]] | None:
        if not tree.seqmap.is_file():
            old = tree.root / "seqmap"
            if old.is_file():
                raise DatasetError(
                    f"the seqmap is now {SEQMAP}, the name TransRMOT's scripts use: export the "
                    f"tree again (or rename the file to {SEQMAP})",
                    path=old,
                )
            return None
        known = {(e.video_id, e.name) for items in expressions.values() for e in items}
        test = read_seqmap(tree.seqmap)
        for number, pair in enumerate(test, 1):
            if pair not in known:
                raise DatasetError(
                    f"sequence {sequence_name(*pair)!r} (entry {number}) names no expression "
                    "file of the tree",
                    path=tree.seqmap,
                )
        return test

    @staticmethod
    def _train_frames(
        tree: ReferKittiTree,
        videos: dict[str, VideoIndex],
        seqmap: list[tuple[str, str]] | None,
    ) -> dict[str, tuple[int, ...]]:
        if not tree.train_list.is_file():
            tested = {v for v, _ in seqmap} if seqmap is not None else set(DEFAULT_TEST_VIDEOS)
            return {v: tuple(range(videos[v].num_frames)) for v in videos if v not in tested}
        listed = read_train_list(tree.train_list)
        for video_id, frames in listed.items():
            if video_id not in videos:
                raise DatasetError(
                    f"lists frames of video {video_id!r}, which has no folder under the image root",
                    path=tree.train_list,
                )
            outside = [f for f in frames if not 0 <= f < videos[video_id].num_frames]
            if outside:
                raise DatasetError(
                    f"lists frame {outside[0]} of video {video_id!r}, which has "
                    f"{videos[video_id].num_frames} frames",
                    path=tree.train_list,
                )
        return {v: tuple(frames) for v, frames in listed.items()}

    def expression(self, video_id: str, name: str) -> ReferExpression:
        for expression in self.expressions.get(video_id, []):
            if expression.name == name:
                return expression
        raise DatasetError(f"no expression {name!r} for video {video_id!r}", path=self.root)

    def test_expressions(self) -> list[ReferExpression]:
        return [self.expression(v, n) for v, n in self.test_sequences]
