"""`videos/<vid>/boxes.parquet`: one row per (frame, track) with the 2D box of the object.

Boxes are absolute pixels, `xyxy`, float, with exclusive right/bottom edges: a box covering
pixel columns 10..19 has x1=10, x2=20. `visibility` is the fraction of the object's unoccluded
pixels that are visible; `truncation` the fraction of its projected extent outside the image.
The amodal box (the whole object, occlusion ignored, possibly beyond the image) is optional.

This is the file format of the columns; in memory a video's boxes are one
`uecity.boxes.VideoBoxes`, which reads and writes these columns.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field, model_validator

from uecity.records.base import FrameIndex, Record, TrackId

REQUIRED_BOX_COLUMNS: dict[str, pa.DataType] = {
    "frame": pa.int32(),
    "track_id": pa.int32(),
    "x1": pa.float64(),
    "y1": pa.float64(),
    "x2": pa.float64(),
    "y2": pa.float64(),
    "visibility": pa.float32(),
    "truncation": pa.float32(),
}
OPTIONAL_BOX_COLUMNS: dict[str, pa.DataType] = {
    "amodal_x1": pa.float64(),
    "amodal_y1": pa.float64(),
    "amodal_x2": pa.float64(),
    "amodal_y2": pa.float64(),
}
OPTIONAL_BOX_COLUMN_GROUPS: tuple[tuple[str, ...], ...] = (
    ("amodal_x1", "amodal_y1", "amodal_x2", "amodal_y2"),
)
"""Optional columns that come together: a file has all of a group or none of it."""
BOX_SCHEMA = pa.schema(
    [pa.field(name, dtype, nullable=False) for name, dtype in REQUIRED_BOX_COLUMNS.items()]
    + [pa.field(name, dtype, nullable=True) for name, dtype in OPTIONAL_BOX_COLUMNS.items()]
)
"""The full Parquet schema; a file may omit each group of optional columns (all or none)."""


def _column_type_fits(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Integer columns take any integer type, float columns any integer or float type: tables
    made with pandas (int64/float64) are read as they are and cast to the on-disk types."""
    if pa.types.is_null(actual):  # an empty column of no particular type
        return True
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    return pa.types.is_floating(actual) or pa.types.is_integer(actual)


def check_box_table_schema(table_schema: pa.Schema) -> list[str]:
    """Problems with a box table's columns: missing, mistyped, or a partial amodal set."""
    problems = []
    for group in OPTIONAL_BOX_COLUMN_GROUPS:
        present = [name for name in group if name in table_schema.names]
        if present and len(present) != len(group):
            problems.append(
                f"columns {', '.join(group)} must come all {len(group)} or none; found only "
                f"{present}"
            )
    for name, dtype in {**REQUIRED_BOX_COLUMNS, **OPTIONAL_BOX_COLUMNS}.items():
        if name not in table_schema.names:
            if name in REQUIRED_BOX_COLUMNS:
                problems.append(f"column '{name}' is missing (expected {dtype})")
        elif not _column_type_fits(table_schema.field(name).type, dtype):
            kind = "an integer" if pa.types.is_integer(dtype) else "a number"
            problems.append(
                f"column '{name}' has type {table_schema.field(name).type}, expected {kind} "
                f"({dtype})"
            )
    return problems


class BoxRow(Record):
    """One row of `boxes.parquet` (the JSON Schema of the Parquet columns)."""

    frame: FrameIndex
    track_id: TrackId
    x1: float = Field(description="Left edge, pixels (inclusive).")
    y1: float = Field(description="Top edge, pixels (inclusive).")
    x2: float = Field(description="Right edge, pixels (exclusive).")
    y2: float = Field(description="Bottom edge, pixels (exclusive).")
    visibility: float = Field(ge=0, le=1)
    truncation: float = Field(ge=0, le=1)
    amodal_x1: float | None = None
    amodal_y1: float | None = None
    amodal_x2: float | None = None
    amodal_y2: float | None = None

    @model_validator(mode="after")
    def _box_not_empty(self) -> BoxRow:
        if not (self.x2 > self.x1 and self.y2 > self.y1):
            raise ValueError(
                f"empty or inverted box x1={self.x1} y1={self.y1} x2={self.x2} y2={self.y2}"
            )
        return self
