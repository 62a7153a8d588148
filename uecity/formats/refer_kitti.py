"""The Refer-KITTI tree, as TransRMOT (wudongming97/RMOT) reads it, defined once.

```
<root>/KITTI/training/image_02/<video>/<frame:06d>.png         frames (the loaders need PNG)
<root>/KITTI/labels_with_ids/image_02/<video>/<frame:06d>.txt  `0 <id> <x1/W> <y1/H> <w/W> <h/H>`
<root>/expression/<video>/<expression>.json                   label / ignore / video_name / sentence
<root>/refer-kitti.train       train frames, one image path a line (relative to <root>)
<root>/seqmap.txt              the scored test sequences, `<video>+<expression>` a line
<root>/native_ids.json         ours: export video / track id → the native dataset's
```

TransRMOT finds a label file by replacing `training` with `labels_with_ids` and `.png` with
`.txt` in the image path. Frame file names and expression `label` keys are 0-based; label keys
are unpadded (`"17"`). Track ids in labels and expressions are global over the whole tree (as
in Refer-KITTI, whose ids were numbered across all videos): TransRMOT samples a training clip
across the boundary of two videos and marks an object as referred when its id is listed for
that frame number in the first video's expression, which per-video ids would alias.

`refer-kitti.train` and `seqmap.txt` carry the names TransRMOT's scripts give them
(`datasets/data_path/refer-kitti.train`, `datasets/data_path/seqmap.txt`): the first lists the
frames training samples from (a video's frames need not all be listed), the second the test
sequences evaluation scores, with no header line.

The RMOT results layout (TransRMOT's `inference.py` and `uecity track` alike):
`<results>/<video>/<expression>/predict.txt`, MOTChallenge lines (`uecity.formats.mot_challenge`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uecity.core.errors import DatasetError

IMAGE_ROOT = "KITTI/training/image_02"
LABEL_ROOT = "KITTI/labels_with_ids/image_02"
EXPRESSION_ROOT = "expression"
TRAIN_LIST = "refer-kitti.train"
SEQMAP = "seqmap.txt"
NATIVE_IDS = "native_ids.json"
IMAGE_SUFFIX = ".png"
LABEL_SUFFIX = ".txt"
EXPRESSION_SUFFIX = ".json"
KITTI_FPS = 10.0  # the frame rate of KITTI's videos, hence of the original Refer-KITTI
DEFAULT_TEST_VIDEOS = ("0005", "0011", "0013")  # the published Refer-KITTI test split
PREDICTION_FILE = "predict.txt"
LABEL_CLASS = 0
LABEL_DECIMALS = 6  # Refer-KITTI's own precision for normalised coordinates
_TRAIN_LINE = re.compile(r"^(?:.*/)?KITTI/training/image_02/([^/]+)/(\d+)\.png$")


def refer_kitti_video_name(number: int) -> str:
    """`0005` for video 5: Refer-KITTI names its videos by KITTI's four-digit numbers."""
    return f"{int(number):04d}"


def frame_name(frame: int) -> str:
    """`000017` for frame 17: image and label files are named by their 0-based frame."""
    return f"{int(frame):06d}"


def image_file(video_id: str, frame: int) -> str:
    """The image of a frame, relative to the tree's root (as `refer-kitti.train` lists it)."""
    return f"{IMAGE_ROOT}/{video_id}/{frame_name(frame)}{IMAGE_SUFFIX}"


def label_file(video_id: str, frame: int) -> str:
    return f"{LABEL_ROOT}/{video_id}/{frame_name(frame)}{LABEL_SUFFIX}"


def expression_file(video_id: str, expression_id: str) -> str:
    return f"{EXPRESSION_ROOT}/{video_id}/{expression_id}{EXPRESSION_SUFFIX}"


def prediction_file(results: Path, video_id: str, expression_id: str) -> Path:
    """Where the predictions of one (video, expression) go in a results folder."""
    return results / video_id / expression_id / PREDICTION_FILE


@dataclass(frozen=True)
class ReferKittiTree:
    """The folders and files of one Refer-KITTI tree on disk."""

    root: Path

    @property
    def image_root(self) -> Path:
        return self.root / IMAGE_ROOT

    @property
    def label_root(self) -> Path:
        return self.root / LABEL_ROOT

    @property
    def expression_root(self) -> Path:
        return self.root / EXPRESSION_ROOT

    @property
    def train_list(self) -> Path:
        return self.root / TRAIN_LIST

    @property
    def seqmap(self) -> Path:
        return self.root / SEQMAP

    @property
    def native_ids(self) -> Path:
        return self.root / NATIVE_IDS

    def image_folder(self, video_id: str) -> Path:
        return self.image_root / video_id

    def label_folder(self, video_id: str) -> Path:
        return self.label_root / video_id

    def expression_folder(self, video_id: str) -> Path:
        return self.expression_root / video_id

    def check(self) -> None:
        """Refuse a tree missing one of its three folders, naming the folder."""
        for folder in (self.image_root, self.label_root, self.expression_root):
            if not folder.is_dir():
                raise DatasetError(
                    f"not a Refer-KITTI tree: {folder.relative_to(self.root)}/ is missing (make "
                    "one with `uecity export DATASET --format refer-kitti --out DIR`)",
                    path=self.root,
                )

    def video_frames(self) -> dict[str, list[Path]]:
        """Each video folder's PNG frames, 0-based and without gaps (else refused)."""
        videos: dict[str, list[Path]] = {}
        for folder in sorted(p for p in self.image_root.iterdir() if p.is_dir()):
            frames = sorted(folder.glob(f"*{IMAGE_SUFFIX}"))
            if not frames:
                continue
            numbers = [int(p.stem) for p in frames if p.stem.isdigit()]
            if numbers != list(range(len(frames))):
                raise DatasetError(
                    "frames must be 000000.png, 000001.png, ... without gaps", path=folder
                )
            videos[folder.name] = frames
        if not videos:
            raise DatasetError(
                f"no video folders with PNG frames under {IMAGE_ROOT}", path=self.root
            )
        return videos

    def expression_paths(self, video_id: str) -> list[Path]:
        folder = self.expression_folder(video_id)
        return sorted(folder.glob(f"*{EXPRESSION_SUFFIX}")) if folder.is_dir() else []


def label_line(track_id: int, x1y1wh_normalised: Iterable[float]) -> str:
    """One label line: class 0, the track id, normalised top-left corner and size."""
    x, y, w, h = (float(v) for v in x1y1wh_normalised)
    d = LABEL_DECIMALS
    return f"{LABEL_CLASS} {int(track_id)} {x:.{d}f} {y:.{d}f} {w:.{d}f} {h:.{d}f}\n"


def read_label_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids (M,) int64, normalised x1y1wh (M, 4) float64) of a label file; a malformed line is
    refused by file and line."""
    ids: list[int] = []
    boxes: list[list[float]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [float(p) for p in parts[:6]]
        except ValueError:
            raise DatasetError(f"not numeric: {line!r}", path=path, line=number) from None
        if len(values) < 6:
            raise DatasetError(
                f"expected `class id x1/W y1/H w/W h/H`, got {line!r}", path=path, line=number
            )
        ids.append(int(values[1]))
        boxes.append(values[2:6])
    return np.array(ids, np.int64), np.array(boxes, np.float64).reshape(-1, 4)


def expression_json(
    label: dict[int, Iterable[int]], ignore: Iterable[int], video_name: str, sentence: str
) -> dict:
    """The expression file: exactly Refer-KITTI's four keys, frame keys ascending."""
    return {
        "label": {str(frame): [int(i) for i in label[frame]] for frame in sorted(label)},
        "ignore": [int(i) for i in ignore],
        "video_name": video_name,
        "sentence": sentence,
    }


@dataclass(frozen=True)
class ExpressionFile:
    """What readers take from an expression file: the sentence and the referred ids of each
    0-based frame."""

    sentence: str
    label: dict[int, frozenset[int]]


def read_expression_file(path: Path) -> ExpressionFile:
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
    return ExpressionFile(sentence, label)


def train_list_text(frames: Iterable[tuple[str, int]]) -> str:
    """`refer-kitti.train`: the image path of each (video, frame), one a line."""
    return "".join(f"{image_file(video_id, frame)}\n" for video_id, frame in frames)


def read_train_list(path: Path) -> dict[str, list[int]]:
    """Video → its listed frames, in list order. Lines are image paths ending in
    `KITTI/training/image_02/<video>/<frame>.png` (a prefix before `KITTI/` is allowed)."""
    videos: dict[str, list[int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        match = _TRAIN_LINE.match(line)
        if match is None:
            raise DatasetError(
                f"expected `{IMAGE_ROOT}/<video>/<frame:06d>{IMAGE_SUFFIX}`, got {line[:80]!r}",
                path=path,
                line=number,
            )
        videos.setdefault(match.group(1), []).append(int(match.group(2)))
    return videos


def native_ids_json(videos: dict[str, tuple[str, dict[int, int], float]]) -> dict:
    """`native_ids.json`: export video → (native video id, native track id → global id, the
    native video's frame rate; Refer-KITTI's own tree has no place for it)."""
    return {
        "description": "export video -> native UE-City video and track ids, and its frame "
        "rate; labels and expressions of this tree use the global ids, unique over the whole "
        "tree",
        "videos": {
            video: {
                "native_video": native,
                "fps": fps,
                "track_ids": {str(n): int(g) for n, g in sorted(ids.items())},
            }
            for video, (native, ids, fps) in videos.items()
        },
    }


def _native_entries(path: Path, read: Callable[[dict], dict]) -> dict:
    """`read(entries)` over the videos of `native_ids.json` (empty without the file, as for the
    original Refer-KITTI); a malformed file is a DatasetError naming it."""
    if not path.is_file():
        return {}
    try:
        return read(json.loads(path.read_text(encoding="utf-8"))["videos"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(f"not a native-ids file ({error})", path=path) from None


def read_native_videos(path: Path) -> dict[str, str]:
    """Export video → native video id from `native_ids.json`."""
    return _native_entries(
        path, lambda videos: {v: str(entry["native_video"]) for v, entry in videos.items()}
    )


def _frame_rates(videos: dict) -> dict[str, float]:
    rates = {v: e["fps"] for v, e in videos.items() if e.get("fps") is not None}
    if not all(
        isinstance(r, int | float) and not isinstance(r, bool) and r > 0 for r in rates.values()
    ):
        raise ValueError("fps must be a positive number")
    return {video: float(rate) for video, rate in rates.items()}


def read_native_fps(path: Path) -> dict[str, float]:
    """Export video → frame rate from `native_ids.json` (videos without one left out; the
    original Refer-KITTI has no such file: its KITTI videos are 10 fps)."""
    return _native_entries(path, _frame_rates)
