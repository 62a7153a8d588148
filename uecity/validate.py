"""Check a whole dataset and report every problem with its file and location.

Readers in `uecity.dataset` stop at the first bad record; the validator keeps going so that a
person fixing a dataset sees everything at once. Each check names the file (relative to the
dataset root), the location inside it (field, row, frame) and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from uecity.boxes import VideoBoxes
from uecity.core.atomic import is_temporary
from uecity.core.errors import DatasetError
from uecity.core.record_io import describe_validation_error, load_json
from uecity.dataset import MANIFEST_NAME
from uecity.image_files import ImageFileProblem, image_size_wh
from uecity.records import (
    FORMAT_VERSION,
    DatasetManifest,
    Expression,
    MotionFile,
    ObjectsFile,
    VideoInfo,
)
from uecity.records.boxes import check_box_table_schema
from uecity.run_journal import JOURNAL_NAME, finish_command, is_held, read_journal

RecordT = TypeVar("RecordT", bound=BaseModel)
ROWS_SHOWN_PER_CHECK = 20
"""A broken Parquet file can have thousands of bad rows: show this many per check, then count."""


@dataclass(frozen=True)
class Problem:
    """One problem: the file (relative to the dataset root), where in it, and what is wrong."""

    path: str
    location: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.location}: {self.message}"
            if self.location
            else (f"{self.path}: {self.message}")
        )


@dataclass
class ValidationReport:
    """Everything `validate_dataset` found, plus what it counted on the way."""

    problems: list[Problem] = field(default_factory=list)
    # harmless findings (temporaries a kill left beside whole files): printed, not failed on
    notes: list[Problem] = field(default_factory=list)
    videos: int = 0
    frames: int = 0
    objects: int = 0
    boxes: int = 0
    intervals: int = 0
    expressions: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _Validator:
    def __init__(self, root: Path, *, check_frame_files: bool):
        self.root = root
        self.check_frame_files = check_frame_files
        self.report = ValidationReport()

    # --- helpers
    def problem(self, path: Path, message: str, location: str = "") -> None:
        try:
            shown = str(path.relative_to(self.root)) if path != self.root else str(path)
        except ValueError:
            shown = str(path)
        self.report.problems.append(Problem(shown, location, message))

    def load(self, path: Path) -> object | None:
        """Parsed JSON of `path`, or None after reporting why it can't be had."""
        try:
            return load_json(path)
        except DatasetError as error:
            self.problem(path, error.args[0])
            return None

    def parse(self, path: Path, data: object, model: type[RecordT]) -> RecordT | None:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            for location, message in describe_validation_error(error):
                self.problem(path, message, location)
            return None

    def read(self, path: Path, model: type[RecordT], *, required: bool = True) -> RecordT | None:
        if not path.exists():
            if required:
                self.problem(path, "file is missing")
            return None
        data = self.load(path)
        return None if data is None else self.parse(path, data, model)

    def rows(
        self, path: Path, rows: np.ndarray, frames: np.ndarray, tracks: np.ndarray, message: str
    ) -> None:
        """Report bad Parquet rows (0-based row numbers), a few by name and the rest counted."""
        for row in rows[:ROWS_SHOWN_PER_CHECK]:
            self.problem(path, message, f"row {row} (frame {frames[row]}, track {tracks[row]})")
        if len(rows) > ROWS_SHOWN_PER_CHECK:
            self.problem(path, f"{message}: {len(rows) - ROWS_SHOWN_PER_CHECK} more rows")

    # --- the dataset
    def run(self) -> ValidationReport:
        if not self.root.is_dir():
            self.problem(self.root, "no such dataset folder")
            return self.report
        if self.running():
            return self.report
        from uecity.generate.worker import PARTIAL  # the generator's staging folder

        interrupted = self.interrupted_run(self.root / PARTIAL)
        manifest = self.manifest()
        if manifest is None:
            return self.report
        staging = self.root / PARTIAL
        for leftover in sorted(p for p in self.root.rglob("*") if is_temporary(p)):
            if interrupted and (leftover.is_relative_to(staging) or leftover.parent == self.root):
                continue  # part of the interrupted run, named above
            # The file it was to replace is whole (the rename never happened): nothing is lost.
            self.report.notes.append(
                Problem(
                    str(leftover.relative_to(self.root)),
                    "",
                    "leftover temporary of an interrupted write, ignored (the file beside it "
                    "is whole); safe to delete",
                )
            )
        self.unlisted_folders(manifest)
        for video_id in manifest.videos:
            if interrupted and not (self.root / "videos" / video_id / "video.json").is_file():
                self.report.videos += 1
                continue  # not generated yet: the finishing command makes it
            self.video(manifest, video_id)
        return self.report

    def running(self) -> bool:
        """A run still writing into the folder: say so, and check nothing else."""
        if not is_held(self.root):
            return False
        record = read_journal(self.root) or {}
        who = f"process {record['pid']}" if "pid" in record else "another process"
        self.problem(
            self.root / JOURNAL_NAME,
            f"`uecity {record.get('command', 'generate')}` ({who}) is still writing into this "
            "folder; validate it when that run has ended",
        )
        return True

    def interrupted_run(self, staging_folder: Path) -> bool:
        """An interrupted `uecity generate` or `merge` (its journal or staging folder is left):
        one problem naming it and the command that finishes it."""
        journal = (self.root / JOURNAL_NAME).is_file()
        staging = staging_folder.is_dir()
        manifest_missing = not (self.root / MANIFEST_NAME).is_file()
        if not (journal or staging):
            return False
        record = read_journal(self.root) or {}
        name = record.get("command", "generate")
        command = finish_command(self.root) or (
            f"uecity generate SPEC --out {self.root} --resume (the spec, seed and overrides "
            "of the interrupted run)"
        )
        stage = "before writing its manifest" if manifest_missing else "before it finished"
        self.problem(
            self.root,
            f"an interrupted `uecity {name}` run (stopped {stage}); finish it with: {command}",
        )
        return True

    def manifest(self) -> DatasetManifest | None:
        path = self.root / MANIFEST_NAME
        if not path.is_file():
            self.problem(path, "file is missing: this folder is not a UE-City dataset")
            return None
        data = self.load(path)
        if data is None:
            return None
        version = data.get("format_version") if isinstance(data, dict) else None
        if version is not None and version != FORMAT_VERSION:
            self.problem(
                path,
                f"format version {version!r}; this uecity reads {FORMAT_VERSION!r}",
                "format_version",
            )
            return None
        return self.parse(path, data, DatasetManifest)

    def unlisted_folders(self, manifest: DatasetManifest) -> None:
        listed = set(manifest.videos)
        for parent in ("videos", "expressions"):
            folder = self.root / parent
            if folder.is_dir():
                for child in sorted(folder.iterdir()):
                    if child.is_dir() and child.name not in listed:
                        self.problem(child, f"video folder not listed in {MANIFEST_NAME}")

    # --- one video
    def video(self, manifest: DatasetManifest, video_id: str) -> None:
        folder = self.root / "videos" / video_id
        self.report.videos += 1
        if not folder.is_dir():
            self.problem(
                folder, f"video '{video_id}' is listed in {MANIFEST_NAME} but its folder is missing"
            )
            return
        info = self.read(folder / "video.json", VideoInfo)
        if info is not None and info.video_id != video_id:
            self.problem(
                folder / "video.json",
                f"is '{info.video_id}' but the folder is '{video_id}'",
                "video_id",
            )
        if info is not None:
            self.report.frames += info.num_frames
            if self.check_frame_files:
                self.frame_files(folder / "frames", info)
        objects = self.read(folder / "objects.json", ObjectsFile)
        object_ids = None if objects is None else {o.track_id for o in objects.objects}
        if objects is not None:
            self.report.objects += len(objects.objects)
        present = self.boxes(folder / "boxes.parquet", info, object_ids)
        self.motion(folder / "motion.json", info, object_ids, manifest, present)
        self.expressions(self.root / "expressions" / video_id, video_id, info, present)

    def frame_files(self, folder: Path, info: VideoInfo) -> None:
        failures: list[tuple[int, str]] = []
        for frame in range(info.num_frames):
            path = folder / info.frame_name(frame)
            try:
                width, height = image_size_wh(path)
            except ImageFileProblem as error:
                failures.append((frame, str(error)))
                continue
            if (width, height) != (info.width, info.height):
                failures.append(
                    (
                        frame,
                        f"image is {width}x{height}, video.json says {info.width}x{info.height}",
                    )
                )
        self.grouped_frame_problems(folder, info, failures)
        expected = {info.frame_name(i) for i in range(info.num_frames)}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.name not in expected and not is_temporary(path):
                    self.problem(
                        path,
                        f"frame file outside the video's range 0.."
                        f"{info.num_frames - 1} (or not a .{info.image_format} name)",
                    )

    def grouped_frame_problems(
        self, folder: Path, info: VideoInfo, failures: list[tuple[int, str]]
    ) -> None:
        """Consecutive frames with the same problem become one line: `000010..000449: ...`."""
        start = 0
        while start < len(failures):
            end = start
            while (
                end + 1 < len(failures)
                and failures[end + 1][1] == failures[start][1]
                and failures[end + 1][0] == failures[end][0] + 1
            ):
                end += 1
            first, last = failures[start][0], failures[end][0]
            if first == last:
                self.problem(folder / info.frame_name(first), failures[start][1])
            else:
                self.problem(
                    folder,
                    failures[start][1],
                    f"frames {info.frame_name(first)}..{info.frame_name(last)}",
                )
            start = end + 1

    def boxes(
        self, path: Path, info: VideoInfo | None, object_ids: set[int] | None
    ) -> set[tuple[int, int]] | None:
        """Check boxes.parquet; return the (frame, track) pairs that have a box."""
        if not path.exists():
            self.problem(path, "file is missing")
            return None
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as error:
            self.problem(path, f"not a readable Parquet file: {error}")
            return None
        schema_problems = check_box_table_schema(table.schema)
        for message in schema_problems:
            self.problem(path, message)
        if schema_problems:
            return None
        try:
            boxes = VideoBoxes.from_arrow(table, nulls_as_nan=True)
        except DatasetError as error:
            self.problem(path, error.args[0])
            return None
        self.report.boxes += len(boxes)
        frames, tracks = boxes.frame, boxes.track_id
        width, height, num_frames = (
            (info.width, info.height, info.num_frames) if info is not None else (None, None, None)
        )
        for rows, message in boxes.problems(width, height, num_frames):
            self.rows(path, np.flatnonzero(rows), frames, tracks, message)
        if object_ids is not None:
            box_ids = set(np.unique(tracks).tolist())
            for track in sorted(box_ids - object_ids):
                self.problem(path, "track has boxes but no entry in objects.json", f"track {track}")
            for track in sorted(object_ids - box_ids):
                self.problem(
                    path.parent / "objects.json",
                    "object has no box in boxes.parquet",
                    f"track {track}",
                )
        return set(boxes.frame_track_pairs())

    def motion(
        self,
        path: Path,
        info: VideoInfo | None,
        object_ids: set[int] | None,
        manifest: DatasetManifest,
        present: set[tuple[int, int]] | None = None,
    ) -> None:
        motion = self.read(path, MotionFile, required=False)
        if motion is None:
            return
        self.report.intervals += len(motion.intervals)
        labels = set(manifest.vocabulary.motion_labels)
        life: dict[int, tuple[int, int]] = {}  # track -> first, last frame with a box
        for frame, track in present or ():
            first, last = life.get(track, (frame, frame))
            life[track] = (min(first, frame), max(last, frame))
        seen: dict[tuple[int, str], list[tuple[int, int, int]]] = {}
        for index, interval in enumerate(motion.intervals):
            where = f"intervals[{index}] (track {interval.track_id}, '{interval.label}')"
            if info is not None and interval.end >= info.num_frames:
                self.problem(
                    path,
                    f"interval {interval.start}..{interval.end} reaches past "
                    f"the video's last frame {info.num_frames - 1}",
                    where,
                )
            if object_ids is not None and interval.track_id not in object_ids:
                self.problem(path, "interval on a track that is not in objects.json", where)
            if interval.track_id in life:
                first, last = life[interval.track_id]
                if interval.start < first or interval.end > last:
                    self.problem(
                        path,
                        f"interval {interval.start}..{interval.end} reaches past the track's "
                        f"life (boxes on frames {first}..{last})",
                        where,
                    )
            if labels and interval.label not in labels:
                self.problem(
                    path,
                    f"label is not in the dataset vocabulary's motion_labels "
                    f"({', '.join(sorted(labels))})",
                    where,
                )
            for other, start, end in seen.get((interval.track_id, interval.label), []):
                if interval.start <= end and start <= interval.end:
                    self.problem(
                        path,
                        f"overlaps intervals[{other}] ({start}..{end}) of the "
                        "same label on the same track",
                        where,
                    )
            seen.setdefault((interval.track_id, interval.label), []).append(
                (index, interval.start, interval.end)
            )

    def expressions(
        self,
        folder: Path,
        video_id: str,
        info: VideoInfo | None,
        present: set[tuple[int, int]] | None,
    ) -> None:
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            expression = self.read(path, Expression)
            if expression is None:
                continue
            self.report.expressions += 1
            if expression.expression_id != path.stem:
                self.problem(
                    path,
                    f"is '{expression.expression_id}' but the file is named '{path.stem}.json'",
                    "expression_id",
                )
            if expression.video_name != video_id:
                self.problem(
                    path,
                    f"names video '{expression.video_name}' but lies under '{video_id}'",
                    "video_name",
                )
            self.referents(path, expression, info, present)

    def referents(
        self,
        path: Path,
        expression: Expression,
        info: VideoInfo | None,
        present: set[tuple[int, int]] | None,
    ) -> None:
        missing: list[str] = []
        for key, ids in expression.label.items():
            frame = int(key)
            if info is not None and frame >= info.num_frames:
                self.problem(
                    path,
                    f"frame {frame} is outside the video's range 0..{info.num_frames - 1}",
                    f"label.{key}",
                )
                continue
            if present is not None:
                missing += [f"{frame}:{i}" for i in ids if (frame, i) not in present]
        if missing:
            shown = ", ".join(missing[:ROWS_SHOWN_PER_CHECK])
            more = (
                f" and {len(missing) - ROWS_SHOWN_PER_CHECK} more"
                if len(missing) > (ROWS_SHOWN_PER_CHECK)
                else ""
            )
            self.problem(
                path,
                f"referred tracks have no box at those frames (frame:track) {shown}{more}",
                "label",
            )


def validate_dataset(root: str | Path, *, check_frame_files: bool = True) -> ValidationReport:
    """Check the dataset at `root`; the report lists every problem found (empty when clean)."""
    return _Validator(Path(root), check_frame_files=check_frame_files).run()
