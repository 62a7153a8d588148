"""MOTChallenge 2D-box files as TrackEval's `MotChallenge2DBox` reads them.

The one home of the field's best-known bug. Inside the product frames are 0-based (image
`%06d.png` of frame f, Refer-KITTI's `label` key "f"); a MOTChallenge line carries frame f + 1.
`mot_frame` / `dataset_frame` are the only places that add or remove that one; every writer of
ground truth and predictions goes through `box_lines`, every reader through `parse_lines`, so
ground truth and predictions cannot drift apart by a frame (TransRMOT's `write_gt` did).

A line is `frame,id,x,y,w,h,<columns>`: pixels, top-left corner and size, written at full
precision (the shortest text that reads back as the same float64: ground truth fed back as a
prediction scores LocA 100 exactly, not 99.99 as with 2 decimals). The default columns `1,1,1`
are TrackEval's confidence, class 1 ("pedestrian", the class RMOT evaluation scores) and
visibility.

Each (video, expression) is one TrackEval sequence named `<video>+<expression>`
(`sequence_name`); expression names may contain commas, so a seqmap line is never split on
them. A seqmap lists one sequence a line; TrackEval's own seqmaps start with a `name` header,
TransRMOT's `seqmap.txt` has none: `read_seqmap` accepts both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from uecity.core.box_formats import mot_xywh_to_xyxy, xyxy_to_mot_xywh
from uecity.core.errors import DatasetError

SEQUENCE_SEPARATOR = "+"
SEQMAP_HEADER = "name"
DEFAULT_COLUMNS = (1, 1, 1)  # confidence, class 1 (pedestrian), visibility
BOX_FIELDS = 6  # frame, id, x, y, w, h


def mot_frame(frame: int) -> int:
    """The MOTChallenge line frame of the product's 0-based frame `frame`."""
    return int(frame) + 1


def dataset_frame(line_frame: int) -> int:
    """The product's 0-based frame of a MOTChallenge line frame."""
    return int(line_frame) - 1


def sequence_name(video_id: str, expression_id: str) -> str:
    """TrackEval's sequence of one (video, expression): `<video>+<expression>`."""
    if SEQUENCE_SEPARATOR in video_id or not video_id or not expression_id:
        raise ValueError(f"no sequence name for video {video_id!r}, expression {expression_id!r}")
    return f"{video_id}{SEQUENCE_SEPARATOR}{expression_id}"


def split_sequence_name(name: str) -> tuple[str, str]:
    """(video, expression) of `<video>+<expression>`, split at the first `+` only."""
    video_id, plus, expression_id = name.partition(SEQUENCE_SEPARATOR)
    if not plus or not video_id or not expression_id:
        raise ValueError(f"{name!r} is not `<video>+<expression>`")
    return video_id, expression_id


def number_text(value: float) -> str:
    """`value` at full precision: the shortest text that reads back as the same float64."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def box_lines(
    frame: int,
    ids: npt.ArrayLike,
    boxes_xyxy: npt.ArrayLike,
    columns: npt.ArrayLike | None = None,
    *,
    column_format: str | None = None,
) -> list[str]:
    """The lines of one 0-based `frame`: `frame+1,id,x,y,w,h,` then `columns` per box
    ((N, k) values; default `1,1,1`), each column written with `column_format` (default full
    precision)."""
    ids = np.asarray(ids).reshape(-1)
    xywh = xyxy_to_mot_xywh(boxes_xyxy)
    if len(xywh) != len(ids):
        raise ValueError(f"{len(ids)} ids for {len(xywh)} boxes")
    head = f"{mot_frame(frame)},"
    if columns is None:
        tail = "," + ",".join(str(c) for c in DEFAULT_COLUMNS)
        tails = [tail] * len(ids)
    else:
        values = np.asarray(columns, dtype=np.float64).reshape(len(ids), -1)
        as_text = (lambda v: format(v, column_format)) if column_format else number_text
        tails = ["".join("," + as_text(float(v)) for v in row) for row in values]
    return [
        head + f"{int(track_id)}," + ",".join(number_text(v) for v in box) + tail + "\n"
        for track_id, box, tail in zip(ids, xywh, tails, strict=True)
    ]


@dataclass(frozen=True)
class MotRows:
    """Parsed MOTChallenge lines as parallel arrays: 0-based `frames` (N,), `ids` (N,),
    `boxes_xyxy` (N, 4) pixels, `columns` (N, k) the values after the box."""

    frames: np.ndarray
    ids: np.ndarray
    boxes_xyxy: np.ndarray
    columns: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def at(self, frame: int) -> MotRows:
        """The rows of one 0-based frame."""
        keep = self.frames == frame
        return MotRows(self.frames[keep], self.ids[keep], self.boxes_xyxy[keep], self.columns[keep])


def parse_lines(
    text: str, path: str | Path, *, num_frames: int | None = None, columns: int | None = None
) -> MotRows:
    """Read MOTChallenge lines; a malformed line is refused by `path`, line number and cause.

    num_frames: the sequence's length, when known (line frames must lie in 1..num_frames);
    columns: the exact number of values after the box, when the file has a fixed shape.
    """
    rows: list[list[float]] = []
    width: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) < BOX_FIELDS:
            raise DatasetError(
                f"expected MOTChallenge `frame,id,x,y,w,h,...` numbers, got {line.strip()[:60]!r}",
                path=path,
                line=number,
            )
        extra = len(values) - BOX_FIELDS
        if (columns is not None and extra != columns) or (width is not None and extra != width):
            expected = columns if columns is not None else width
            raise DatasetError(
                f"expected {BOX_FIELDS + int(expected or 0)} values, got {len(values)}",
                path=path,
                line=number,
            )
        width = extra
        if not (values[0].is_integer() and values[1].is_integer()):
            raise DatasetError(
                f"frame and id must be integers, got {fields[0].strip()!r}, {fields[1].strip()!r}",
                path=path,
                line=number,
            )
        if values[0] < 1 or (num_frames is not None and values[0] > num_frames):
            span = f"1..{num_frames}" if num_frames is not None else "1 or more"
            raise DatasetError(
                f"frame {fields[0].strip()} is outside the video ({span}, 1-based)",
                path=path,
                line=number,
            )
        rows.append(values)
    table = np.array(rows, dtype=np.float64).reshape(len(rows), BOX_FIELDS + (width or 0))
    return MotRows(
        frames=table[:, 0].astype(np.int64) - 1,
        ids=table[:, 1].astype(np.int64),
        boxes_xyxy=mot_xywh_to_xyxy(table[:, 2:6]),
        columns=table[:, BOX_FIELDS:],
    )


def read_lines(path: Path, **options: int | None) -> MotRows:
    """`parse_lines` of a file; an unreadable file is named."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read the MOTChallenge file: {error}", path=path) from None
    return parse_lines(text, path, **options)


def seqmap_text(sequences: Iterable[str], *, header: bool) -> str:
    """A seqmap: one sequence a line, after TrackEval's `name` header when `header`."""
    lines = [SEQMAP_HEADER] if header else []
    return "".join(f"{line}\n" for line in [*lines, *sequences])


def read_seqmap(path: Path) -> list[tuple[str, str]]:
    """(video, expression) of each line of a seqmap, in order; a `name` header is skipped and
    lines are never split on commas."""
    if not path.is_file():
        raise DatasetError("seqmap not found", path=path)
    found: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or (not found and line == SEQMAP_HEADER):
            continue
        try:
            found.append(split_sequence_name(line))
        except ValueError:
            raise DatasetError(
                f"expected `<video>+<expression>`, got {line[:60]!r}", path=path, line=number
            ) from None
    return found


def seqinfo_text(name: str, length: int, width: int, height: int, fps: float) -> str:
    """A `seqinfo.ini`, where TrackEval's default settings read a sequence's length."""
    return (
        "[Sequence]\n"
        f"name={name}\n"
        f"frameRate={fps:g}\n"
        f"seqLength={length}\n"
        f"imWidth={width}\n"
        f"imHeight={height}\n"
        "imExt=.png\n"
    )


# TrackEval's default MotChallenge2DBox layout, relative to GT_FOLDER / TRACKERS_FOLDER.


def split_folder(benchmark: str, split: str) -> str:
    """`<benchmark>-<split>`, the folder between GT_FOLDER and the sequences."""
    return f"{benchmark}-{split}"


def gt_file(sequence: str) -> str:
    return f"{sequence}/gt/gt.txt"


def seqinfo_file(sequence: str) -> str:
    return f"{sequence}/seqinfo.ini"


def seqmap_file(benchmark: str, split: str) -> str:
    return f"seqmaps/{split_folder(benchmark, split)}.txt"


def tracker_file(tracker: str, sequence: str) -> str:
    return f"{tracker}/data/{sequence}.txt"


def sequence_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """`sequence_name` of each (video, expression)."""
    return [sequence_name(v, e) for v, e in pairs]
