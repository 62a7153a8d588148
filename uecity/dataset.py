"""Open, read and write a native UE-City dataset (layout in `uecity.records`).

`Dataset` is the folder; `Video` one video inside it. Readers validate what they read and raise
`DatasetError` naming the file and field; every write is atomic. A dataset written by another
format version is refused. `uecity.validate` checks a whole dataset and reports every problem
instead of stopping at the first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from uecity.boxes import VideoBoxes
from uecity.core.atomic import atomic_path, atomic_write_bytes
from uecity.core.errors import DatasetError, RevisionConflict
from uecity.core.record_io import load_json, read_record, write_record
from uecity.image_files import encode_image
from uecity.records import (
    FORMAT_VERSION,
    DatasetManifest,
    Expression,
    MotionFile,
    MotionInterval,
    ObjectRecord,
    ObjectsFile,
    VideoInfo,
)

MANIFEST_NAME = "dataset.json"

try:  # POSIX: serialise motion saves across processes (annotator + a script, two servers)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_motion_lock = threading.Lock()


@dataclass(frozen=True)
class Frame:
    """One frame of a video: its index, image file and boxes."""

    index: int
    image_path: Path
    boxes: VideoBoxes


def check_referents(
    expression: Expression, boxes: Collection[tuple[int, int]], num_frames: int, path: Path
) -> None:
    """Refuse an expression that refers to a frame outside its video or to a track without a
    box at that frame (`boxes` holds the video's (frame, track_id) pairs)."""
    for key in sorted(expression.label, key=int):
        frame = int(key)
        if not 0 <= frame < num_frames:
            raise DatasetError(
                f"expression '{expression.expression_id}' refers to frame {frame}, outside the "
                f"video (frames 0..{num_frames - 1})",
                path=path,
                field=f"label.{key}",
            )
        for track in expression.label[key]:
            if (frame, track) not in boxes:
                raise DatasetError(
                    f"expression '{expression.expression_id}' refers to track {track} at frame "
                    f"{frame}, which has no box there",
                    path=path,
                    field=f"label.{key}",
                )


class Video:
    """One video of a dataset: `<root>/videos/<video_id>/`."""

    def __init__(self, dataset: Dataset, video_id: str):
        self.dataset = dataset
        self.video_id = video_id
        self.folder = dataset.root / "videos" / video_id

    def __repr__(self) -> str:
        return f"Video({self.video_id!r} in {self.dataset.root})"

    # --- paths
    @property
    def info_path(self) -> Path:
        return self.folder / "video.json"

    @property
    def objects_path(self) -> Path:
        return self.folder / "objects.json"

    @property
    def boxes_path(self) -> Path:
        return self.folder / "boxes.parquet"

    @property
    def motion_path(self) -> Path:
        return self.folder / "motion.json"

    @property
    def frames_folder(self) -> Path:
        return self.folder / "frames"

    def frame_path(self, frame: int) -> Path:
        return self.frames_folder / self.info.frame_name(frame)

    # --- video.json
    @cached_property
    def info(self) -> VideoInfo:
        info = read_record(self.info_path, VideoInfo)
        if info.video_id != self.video_id:
            raise DatasetError(
                f"video_id is '{info.video_id}' but the folder is '{self.video_id}'",
                path=self.info_path,
                field="video_id",
            )
        return info

    def write_info(self, info: VideoInfo) -> None:
        if info.video_id != self.video_id:
            raise DatasetError(f"cannot write video '{info.video_id}' as '{self.video_id}'")
        write_record(self.info_path, info)
        self.__dict__["info"] = info

    # --- frames
    def write_frame(self, frame: int, image_bgr: np.ndarray, *, jpeg_quality: int = 92) -> Path:
        """Encode and write one frame atomically (not fsynced: a resumed run re-renders it)."""
        path = self.frame_path(frame)
        data = encode_image(image_bgr, self.info.image_format, jpeg_quality=jpeg_quality)
        atomic_write_bytes(path, data, durable=False)
        return path

    def write_frame_bytes(self, frame: int, data: bytes) -> Path:
        """Write already-encoded frame bytes (e.g. PNG from UnrealCV) atomically."""
        path = self.frame_path(frame)
        atomic_write_bytes(path, data, durable=False)
        return path

    # --- objects.json
    def objects(self) -> list[ObjectRecord]:
        return read_record(self.objects_path, ObjectsFile).objects

    def write_objects(self, objects: list[ObjectRecord]) -> None:
        ordered = sorted(objects, key=lambda o: o.track_id)
        write_record(self.objects_path, ObjectsFile(objects=ordered))

    # --- boxes.parquet
    def boxes(self) -> VideoBoxes:
        """All boxes of the video, sorted by (frame, track_id)."""
        try:
            table = pq.read_table(self.boxes_path)
        except FileNotFoundError:
            raise DatasetError("file is missing", path=self.boxes_path) from None
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(
                f"not a readable Parquet file: {error}", path=self.boxes_path
            ) from None
        try:
            return VideoBoxes.from_arrow(table).sorted()
        except DatasetError as error:
            raise DatasetError(error.args[0], path=self.boxes_path) from None

    def write_boxes(self, boxes: VideoBoxes) -> None:
        try:
            table = boxes.to_arrow()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
            raise DatasetError(
                f"box values do not fit the on-disk types: {error}", path=self.boxes_path
            ) from None
        with atomic_path(self.boxes_path) as temporary:
            # No metadata and fixed options: the same boxes give the same bytes.
            pq.write_table(table, temporary, compression="zstd", row_group_size=1 << 20)

    def frames(self) -> Iterator[Frame]:
        """Every frame in order, with its image path and its boxes (empty where none)."""
        for index, boxes in self.boxes().by_frame(self.info.num_frames):
            yield Frame(index=index, image_path=self.frame_path(index), boxes=boxes)

    # --- motion.json
    def motion(self) -> MotionFile:
        """The motion intervals; a video without a motion file has none (revision 0)."""
        if not self.motion_path.exists():
            return MotionFile()
        return read_record(self.motion_path, MotionFile)

    def write_motion(
        self,
        intervals: list[MotionInterval],
        *,
        base_revision: int | None = None,
        history: list[MotionInterval] | None = None,
    ) -> MotionFile:
        """Save intervals as the next revision; refuse if the file moved past `base_revision`.

        `base_revision` is the revision the caller's copy was read at (None: don't check). The
        check and the write happen under a lock, so two writers cannot both win. `history`
        replaces the file's history of superseded automatic intervals (None: keep it).
        """
        ordered = sorted(intervals, key=lambda i: (i.track_id, i.start, i.end, i.label))
        with _motion_lock, _folder_lock(self.folder):
            current = self.motion()
            if base_revision is not None and base_revision != current.revision:
                raise RevisionConflict(
                    f"motion intervals changed since you loaded them (your revision "
                    f"{base_revision}, saved revision {current.revision}); reload and apply "
                    "your edit again",
                    path=self.motion_path,
                )
            kept = current.history if history is None else history
            saved = MotionFile(revision=current.revision + 1, intervals=ordered, history=kept)
            write_record(self.motion_path, saved)
        return saved

    # --- expressions
    @property
    def expressions_folder(self) -> Path:
        return self.dataset.root / "expressions" / self.video_id

    def expression_ids(self) -> list[str]:
        if not self.expressions_folder.is_dir():
            return []
        return sorted(p.stem for p in self.expressions_folder.glob("*.json"))

    def expression(self, expression_id: str) -> Expression:
        path = self.expressions_folder / f"{expression_id}.json"
        expression = read_record(path, Expression)
        if expression.expression_id != expression_id or expression.video_name != self.video_id:
            raise DatasetError(
                f"holds expression '{expression.expression_id}' of video "
                f"'{expression.video_name}', but its path says '{expression_id}' of "
                f"'{self.video_id}'",
                path=path,
            )
        return expression

    def expressions(self) -> list[Expression]:
        return [self.expression(e) for e in self.expression_ids()]

    def write_expression(self, expression: Expression) -> Path:
        if expression.video_name != self.video_id:
            raise DatasetError(
                f"expression '{expression.expression_id}' is of video "
                f"'{expression.video_name}', not '{self.video_id}'"
            )
        path = self.expressions_folder / f"{expression.expression_id}.json"
        write_record(path, expression)
        return path


class Dataset:
    """A native UE-City dataset folder."""

    def __init__(self, root: Path, manifest: DatasetManifest):
        self.root = root
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, {len(self.videos)} videos)"

    @staticmethod
    def manifest_path(root: str | Path) -> Path:
        return Path(root) / MANIFEST_NAME

    @classmethod
    def open(cls, root: str | Path) -> Dataset:
        """Open an existing dataset; refuses a missing folder or another format version."""
        root = Path(root)
        path = cls.manifest_path(root)
        if not root.is_dir():
            raise DatasetError("no such dataset folder", path=root)
        if not path.is_file():
            raise DatasetError(
                f"not a UE-City dataset: it has no {MANIFEST_NAME} (make one with "
                "`uecity generate`)",
                path=root,
            )
        data = load_json(path)
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise DatasetError(
                f"dataset format version {version!r} is not the {FORMAT_VERSION!r} this "
                "uecity reads; use the uecity version that wrote it, or regenerate",
                path=path,
                field="format_version",
            )
        return cls(root, read_record(path, DatasetManifest))

    @classmethod
    def create(
        cls, root: str | Path, manifest: DatasetManifest, *, exist_ok: bool = False
    ) -> Dataset:
        """Start a dataset at `root` by writing its manifest.

        A folder that already holds files is refused unless it is a UE-City dataset and
        `exist_ok` is set (the manifest is then rewritten): we never write into a stranger's data.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise DatasetError("exists and is not a folder", path=root)
        if root.is_dir() and any(root.iterdir()):
            if not cls.manifest_path(root).is_file():
                raise DatasetError(
                    "folder is not empty and is not a UE-City dataset; choose another --out",
                    path=root,
                )
            if not exist_ok:
                raise DatasetError(
                    "a dataset already exists here (use --resume to continue it, or another --out)",
                    path=root,
                )
        root.mkdir(parents=True, exist_ok=True)
        write_record(cls.manifest_path(root), manifest)
        return cls(root, manifest)

    def write_manifest(self, manifest: DatasetManifest) -> None:
        write_record(self.manifest_path(self.root), manifest)
        self.manifest = manifest

    def add_motion_labels(self, labels: list[str]) -> DatasetManifest:
        """Add motion labels to the vocabulary in dataset.json, keeping every other writer's.

        The manifest is read again from disk under the lock motion saves take (in-process and
        `flock`, here on the dataset folder), so two annotators adding labels at once both keep
        theirs: the registry only grows, and it is never rewritten from a stale copy.
        """
        with _motion_lock, _folder_lock(self.root):
            manifest = Dataset.open(self.root).manifest
            known = manifest.vocabulary.motion_labels
            missing = [label for label in dict.fromkeys(labels) if label not in known]
            if missing:
                vocabulary = manifest.vocabulary.model_copy(
                    update={"motion_labels": [*known, *missing]}
                )
                manifest = manifest.model_copy(update={"vocabulary": vocabulary})
                write_record(self.manifest_path(self.root), manifest)
        self.manifest = manifest
        return manifest

    def reload_manifest(self) -> DatasetManifest:
        """Read dataset.json again (another process may have added labels)."""
        self.manifest = Dataset.open(self.root).manifest
        return self.manifest

    @property
    def videos(self) -> list[str]:
        return list(self.manifest.videos)

    def video(self, video_id: str) -> Video:
        if video_id not in self.manifest.videos:
            raise DatasetError(
                f"no video '{video_id}' in this dataset (it has: "
                f"{', '.join(self.manifest.videos) or 'none'})",
                path=self.manifest_path(self.root),
            )
        return Video(self, video_id)

    def split(self, name: str) -> list[str]:
        if name not in self.manifest.splits:
            raise DatasetError(
                f"no split '{name}' (known: {', '.join(self.manifest.splits) or 'none'})",
                path=self.manifest_path(self.root),
                field="splits",
            )
        return list(self.manifest.splits[name])


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive `flock` on a folder itself, so no lock file litters the dataset."""
    if fcntl is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def now_utc() -> datetime:
    """The timestamp recorded on manual edits (UTC, second precision)."""
    return datetime.now(UTC).replace(microsecond=0)
