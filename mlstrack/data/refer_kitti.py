"""An index of a Refer-KITTI tree: videos, frames, per-frame labels, expressions and splits.

Reads the layout `uecity export --format refer-kitti` writes and the original Refer-KITTI
(`KITTI/training/image_02/<vid>/%06d.png`, `KITTI/labels_with_ids/image_02/<vid>/%06d.txt`,
`expression/<vid>/<name>.json`, `refer-kitti.train`, `seqmap`). Labels are converted at this edge
from Refer-KITTI's normalised `x1, y1, w, h` to the product's absolute `xyxy` pixels. Splits: the
train videos are those named in `refer-kitti.train`, the test sequences those of `seqmap`
(`<video>+<expression>` lines, never split on commas); without these files the original
Refer-KITTI split applies (test videos 0005, 0011, 0013).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from uecity.core.box_formats import refer_kitti_x1y1wh_normalised_to_xyxy
from uecity.core.errors import DatasetError

logger = logging.getLogger(__name__)

IMAGE_ROOT = Path("KITTI/training/image_02")
LABEL_ROOT = Path("KITTI/labels_with_ids/image_02")
EXPRESSION_ROOT = Path("expression")
TRAIN_LIST = "refer-kitti.train"
SEQMAP = "seqmap"
DEFAULT_TEST_VIDEOS = ("0005", "0011", "0013")


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
        return f"{self.video_id}+{self.name}"

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
        path = self.label_folder / f"{frame:06d}.txt"
        if not path.is_file():
            return FrameLabels(np.zeros(0, np.int64), np.zeros((0, 4)))
        ids, boxes = [], []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                values = [float(p) for p in parts[:6]]
            except ValueError:
                raise DatasetError(f"line {number} is not numeric: {line!r}", path=path) from None
            if len(values) < 6:
                raise DatasetError(f"line {number} needs `class id x1/W y1/H w/W h/H`", path=path)
            ids.append(int(values[1]))
            boxes.append(values[2:6])
        width, height = self.size_wh
        xyxy = refer_kitti_x1y1wh_normalised_to_xyxy(np.array(boxes).reshape(-1, 4), width, height)
        id_array = np.array(ids, np.int64)
        _, first = np.unique(id_array, return_index=True)  # a duplicated id keeps its first box
        first.sort()
        return FrameLabels(id_array[first], xyxy[first])


def _read_expression(path: Path, video_id: str) -> ReferExpression:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sentence = str(data["sentence"]).strip()
        label = {
            int(key): frozenset(int(float(i)) for i in ids)
            for key, ids in dict(data.get("label", {})).items()
        }
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"not valid JSON ({error})", path=path) from None
    except KeyError:
        raise DatasetError("missing the 'sentence' key", path=path, field="sentence") from None
    except (TypeError, ValueError) as error:
        raise DatasetError(
            f"'label' must map frame numbers to id lists ({error})", path=path, field="label"
        ) from None
    if not sentence:
        raise DatasetError("empty sentence", path=path, field="sentence")
    return ReferExpression(video_id, path.stem, sentence, label, path)


@dataclass
class ReferKittiIndex:
    """Everything of a Refer-KITTI tree that training, tracking and evaluation read."""

    root: Path
    videos: dict[str, VideoIndex]
    expressions: dict[str, list[ReferExpression]]
    train_videos: list[str]
    test_sequences: list[tuple[str, str]]  # (video, expression name)

    @classmethod
    def open(cls, root: str | Path) -> ReferKittiIndex:
        root = Path(root)
        image_root = root / IMAGE_ROOT
        if not image_root.is_dir():
            raise DatasetError(
                f"not a Refer-KITTI tree: {IMAGE_ROOT} is missing (make one with `uecity export "
                "DATASET --format refer-kitti --out DIR`)",
                path=root,
            )
        videos: dict[str, VideoIndex] = {}
        for folder in sorted(p for p in image_root.iterdir() if p.is_dir()):
            frames = sorted(folder.glob("*.png"))
            if not frames:
                continue
            numbers = [int(p.stem) for p in frames if p.stem.isdigit()]
            if numbers != list(range(len(frames))):
                raise DatasetError(
                    "frames must be 000000.png, 000001.png, ... without gaps", path=folder
                )
            videos[folder.name] = VideoIndex(folder.name, frames, root / LABEL_ROOT / folder.name)
        if not videos:
            raise DatasetError(f"no video folders with PNG frames under {IMAGE_ROOT}", path=root)
        expressions: dict[str, list[ReferExpression]] = {}
        for video_id in videos:
            folder = root / EXPRESSION_ROOT / video_id
            paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
            expressions[video_id] = [_read_expression(p, video_id) for p in paths]
        if not any(expressions.values()):
            raise DatasetError(f"no expressions under {EXPRESSION_ROOT}/<video>/", path=root)
        train, test = cls._splits(root, videos, expressions)
        logger.info(
            "Refer-KITTI tree %s: %d videos, %d train, %d test sequences",
            root,
            len(videos),
            len(train),
            len(test),
        )
        return cls(root, videos, expressions, train, test)

    @staticmethod
    def _splits(
        root: Path, videos: dict[str, VideoIndex], expressions: dict[str, list[ReferExpression]]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        train_list, seqmap = root / TRAIN_LIST, root / SEQMAP
        known = {(e.video_id, e.name) for items in expressions.values() for e in items}
        test: list[tuple[str, str]] = []
        if seqmap.is_file():
            for line in seqmap.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line or line == "name":  # TrackEval's seqmaps start with a header
                    continue
                video_id, plus, name = line.partition("+")  # names may hold commas: no split
                if not plus or (video_id, name) not in known:
                    raise DatasetError(
                        f"seqmap line {line!r} names no expression of the tree", path=seqmap
                    )
                test.append((video_id, name))
        if train_list.is_file():
            train_set = set()
            for line in train_list.read_text(encoding="utf-8").splitlines():
                parts = Path(line.strip()).parts
                if len(parts) >= 4 and parts[-2] in videos:
                    train_set.add(parts[-2])
            train = sorted(train_set)
        else:
            test_videos = {v for v, _ in test} or set(DEFAULT_TEST_VIDEOS)
            train = sorted(v for v in videos if v not in test_videos)
        if not seqmap.is_file():
            test_videos = [v for v in DEFAULT_TEST_VIDEOS if v in videos]
            if not test_videos:
                test_videos = [v for v in videos if v not in train] or list(videos)[-1:]
            test = [(v, e.name) for v in test_videos for e in expressions[v]]
        return train, test

    def expression(self, video_id: str, name: str) -> ReferExpression:
        for expression in self.expressions.get(video_id, []):
            if expression.name == name:
                return expression
        raise DatasetError(f"no expression {name!r} for video {video_id!r}", path=self.root)

    def test_expressions(self) -> list[ReferExpression]:
        return [self.expression(v, n) for v, n in self.test_sequences]
