"""`VideoBoxes`: every 2D box of a video as one frozen record of parallel numpy arrays.

One row per (frame, track): `frame`, `track_id`, `xyxy` (absolute pixels, exclusive
right/bottom edges, DESIGN.md), `visibility`, `truncation` and the optional `amodal_xyxy`
(the projected 3D box, occlusion ignored, possibly beyond the image). In the spirit of
supervision's `Detections`: validated on construction, indexable by a boolean mask, an index
array or a slice, with an empty form and per-frame slices, so code that handles a frame never
special-cases "no objects".

The per-box fields are declared once, below, each with the `boxes.parquet` columns it is
stored in; validation, indexing, concatenation, the empty record and the Parquet conversion
all go over that declaration. The columns' on-disk types and the row's JSON Schema live with
the file format, in `uecity.records.boxes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute

from uecity.core.errors import DatasetError
from uecity.records.boxes import BOX_SCHEMA, check_box_table_schema

_PER_BOX = "per_box"  # the key of a field's `_PerBox` in its dataclass metadata


@dataclass(frozen=True)
class _PerBox:
    """How one per-box field is stored: its dtype, its Parquet columns (one per array column),
    what an omitted field is filled with, and whether it may be absent as a whole."""

    dtype: type[np.generic]
    columns: tuple[str, ...]
    fill: float | None = None
    optional: bool = False
    unit_interval: bool = False  # values must lie in 0..1


@dataclass(frozen=True)
class VideoBoxes:
    """Boxes of a video (or of one frame of it): N rows of parallel arrays."""

    frame: npt.NDArray[np.int64] = field(metadata={_PER_BOX: _PerBox(np.int64, ("frame",))})
    """(N,) 0-based frame index."""
    track_id: npt.NDArray[np.int64] = field(metadata={_PER_BOX: _PerBox(np.int64, ("track_id",))})
    """(N,) track id, unique within a video, >= 0."""
    xyxy: npt.NDArray[np.float64] = field(
        metadata={_PER_BOX: _PerBox(np.float64, ("x1", "y1", "x2", "y2"))}
    )
    """(N, 4) absolute pixels, exclusive right/bottom edges."""
    visibility: npt.NDArray[np.float32] = field(
        default=None,  # type: ignore[assignment]
        metadata={_PER_BOX: _PerBox(np.float32, ("visibility",), fill=1.0, unit_interval=True)},
    )
    """(N,) visible share of the object's unoccluded pixels (omitted: 1)."""
    truncation: npt.NDArray[np.float32] = field(
        default=None,  # type: ignore[assignment]
        metadata={_PER_BOX: _PerBox(np.float32, ("truncation",), fill=0.0, unit_interval=True)},
    )
    """(N,) share of the amodal box outside the image (omitted: 0)."""
    amodal_xyxy: npt.NDArray[np.float64] | None = field(
        default=None,
        metadata={
            _PER_BOX: _PerBox(
                np.float64, ("amodal_x1", "amodal_y1", "amodal_x2", "amodal_y2"), optional=True
            )
        },
    )
    """(N, 4) the projected 3D box, or None where the boxes have none (a NaN row: that box has
    none; stored as nulls)."""

    def __post_init__(self) -> None:
        n = len(np.asarray(self.frame).reshape(-1))
        for name, spec in _FIELDS:
            value = getattr(self, name)
            if value is None:
                if spec.optional:
                    continue
                value = np.full(n, spec.fill, spec.dtype)
            array = np.asarray(value, dtype=spec.dtype)
            width = len(spec.columns)
            if array.size == 0:
                array = array.reshape((0, width) if width > 1 else (0,))
            expected = (n, width) if width > 1 else (n,)
            if array.shape != expected:
                raise ValueError(
                    f"VideoBoxes: {name} has shape {array.shape}, expected {expected} for {n} boxes"
                )
            object.__setattr__(self, name, array)

    # --- construction
    @classmethod
    def empty(cls) -> VideoBoxes:
        return cls(
            frame=np.zeros(0, np.int64), track_id=np.zeros(0, np.int64), xyxy=np.zeros((0, 4))
        )

    @classmethod
    def concatenate(cls, parts: Sequence[VideoBoxes]) -> VideoBoxes:
        """The rows of `parts` one after another; `amodal_xyxy` is kept only if all have it."""
        if not parts:
            return cls.empty()
        arrays: dict[str, np.ndarray | None] = {}
        for name, _ in _FIELDS:
            values = [getattr(part, name) for part in parts]
            arrays[name] = None if any(v is None for v in values) else np.concatenate(values)
        return cls(**arrays)  # type: ignore[arg-type]

    # --- access
    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index: npt.ArrayLike | slice | int) -> VideoBoxes:
        """The rows selected by a boolean mask, an index array, a slice or one index."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        values = {}
        for name, _ in _FIELDS:
            value = getattr(self, name)
            values[name] = None if value is None else value[index]
        return VideoBoxes(**values)

    @property
    def area(self) -> npt.NDArray[np.float64]:
        """Box areas in square pixels (exclusive edges: width = x2 - x1)."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def by_track(self, track_id: int) -> VideoBoxes:
        return self[self.track_id == track_id]

    def of_frame(self, frame: int) -> VideoBoxes:
        return self[self.frame == frame]

    def sorted(self) -> VideoBoxes:
        """The rows in (frame, track_id) order, the order of `boxes.parquet`."""
        return self[np.lexsort((self.track_id, self.frame))]

    def frame_offsets(self, num_frames: int) -> npt.NDArray[np.int64]:
        """(num_frames + 1,) row offsets: rows of frame f are `[o[f], o[f + 1])` (sorted rows;
        rows of frames past `num_frames` lie beyond the last offset)."""
        if len(self) > 1 and (np.diff(self.frame) < 0).any():
            raise ValueError("VideoBoxes.frame_offsets needs rows sorted by frame")
        return np.searchsorted(self.frame, np.arange(num_frames + 1)).astype(np.int64)

    def by_frame(self, num_frames: int) -> Iterator[tuple[int, VideoBoxes]]:
        """(frame, its boxes) for frames 0..num_frames-1, empty where a frame has none."""
        ordered = self if len(self) < 2 or (np.diff(self.frame) >= 0).all() else self.sorted()
        offsets = ordered.frame_offsets(num_frames)
        for frame in range(num_frames):
            yield frame, ordered[int(offsets[frame]) : int(offsets[frame + 1])]

    def frame_track_pairs(self) -> list[tuple[int, int]]:
        """The (frame, track_id) of every row, in row order."""
        return list(zip(self.frame.tolist(), self.track_id.tolist(), strict=True))

    def with_track_ids(self, track_id: npt.ArrayLike) -> VideoBoxes:
        return replace(self, track_id=np.asarray(track_id, np.int64))

    # --- checks of the values (the validator reports them; readers do not refuse them)
    def problems(
        self, width: int | None, height: int | None, num_frames: int | None
    ) -> list[tuple[npt.NDArray[np.bool_], str]]:
        """(rows, what is wrong with them) for every check of the box values that some rows
        fail: finite, non-empty boxes inside the image, 0..1 shares, frames inside the video,
        ids >= 0, one box per (frame, track)."""
        x1, y1, x2, y2 = self.xyxy.T
        finite = np.isfinite(self.xyxy).all(axis=1)
        checks: list[tuple[npt.NDArray[np.bool_], str]] = [
            (~finite, "box coordinate is NaN or infinite")
        ]
        with np.errstate(invalid="ignore"):
            checks.append(
                (finite & ((x2 < x1) | (y2 < y1)), "box is inverted (x2 < x1 or y2 < y1)")
            )
            checks.append(
                (finite & ((x2 == x1) | (y2 == y1)), "box is empty (zero width or height)")
            )
            if width is not None and height is not None:
                outside = (x1 < 0) | (y1 < 0) | (x2 > width) | (y2 > height)
                checks.append(
                    (
                        finite & outside,
                        f"box reaches outside the {width}x{height} image (edges are exclusive: "
                        "x2 <= width)",
                    )
                )
            for name, spec in _FIELDS:
                value = getattr(self, name)
                if spec.unit_interval and value is not None:
                    checks.append((~((value >= 0) & (value <= 1)), f"{name} outside 0..1"))
        checks.append((self.track_id < 0, "negative track id"))
        if num_frames is not None:
            checks.append(
                (
                    (self.frame < 0) | (self.frame >= num_frames),
                    f"frame outside the video's range 0..{num_frames - 1}",
                )
            )
        pairs = self.frame * (1 << 32) + self.track_id
        _, first = np.unique(pairs, return_index=True)
        checks.append(
            (
                np.isin(np.arange(len(pairs)), first, invert=True),
                "second box for the same (frame, track)",
            )
        )
        return [(rows, message) for rows, message in checks if rows.any()]

    # --- boxes.parquet
    @classmethod
    def from_arrow(cls, table: pa.Table, *, nulls_as_nan: bool = False) -> VideoBoxes:
        """The boxes of a `boxes.parquet` table, in the table's row order. Integer and float
        columns of any width are taken (tables made with pandas); a missing or mistyped column,
        a partial amodal set or a null value raises `DatasetError`. With `nulls_as_nan`, a null
        in a float column reads as NaN instead (the validator then names its rows)."""
        problems = check_box_table_schema(table.schema)
        if problems:
            raise DatasetError(f"not a box table: {'; '.join(problems)}")
        arrays: dict[str, np.ndarray | None] = {}
        for name, spec in _FIELDS:
            if spec.optional and spec.columns[0] not in table.column_names:
                arrays[name] = None
                continue
            columns = []
            for column_name in spec.columns:
                column = table.column(column_name)
                # An optional field's null is a box without it (NaN); elsewhere a null is refused.
                as_nan = spec.optional or (nulls_as_nan and spec.dtype is not np.int64)
                if column.null_count and not as_nan:
                    row = int(pa.compute.index(column.is_null(), True).as_py())
                    raise DatasetError(
                        f"column '{column_name}' has {column.null_count} null value(s) (first at "
                        f"row {row}); every box needs a value in every column"
                    )
                if pa.types.is_null(column.type):  # an empty column of no particular type
                    column = column.cast(pa.float64())
                values = column.to_numpy(zero_copy_only=False)
                columns.append(values.astype(spec.dtype, copy=False))
            arrays[name] = columns[0] if len(columns) == 1 else np.stack(columns, axis=1)
        return cls(**arrays)  # type: ignore[arg-type]

    def to_arrow(self) -> pa.Table:
        """The `boxes.parquet` table: `BOX_SCHEMA`'s columns (the amodal ones only when the
        boxes have them), sorted by (frame, track_id)."""
        ordered = self.sorted()
        columns: dict[str, np.ndarray] = {}
        for name, spec in _FIELDS:
            value = getattr(ordered, name)
            if value is None:
                continue
            for k, column_name in enumerate(spec.columns):
                columns[column_name] = value[:, k] if value.ndim == 2 else value
        schema = pa.schema([BOX_SCHEMA.field(name) for name in columns])
        return pa.table(
            {
                # NaN is null only where a column may be null (an optional field's missing box)
                name: pa.array(
                    values, type=schema.field(name).type, from_pandas=schema.field(name).nullable
                )
                for name, values in columns.items()
            },
            schema=schema,
        )


_FIELDS: list[tuple[str, _PerBox]] = [  # the per-box fields in declaration order
    (f.name, f.metadata[_PER_BOX]) for f in fields(VideoBoxes)
]
