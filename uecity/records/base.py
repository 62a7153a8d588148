"""The base of every on-disk record: strict, immutable pydantic models.

Records are the file and network boundary of the product (STYLE.md §3): unknown keys are
refused, so a typo in a hand-edited file is reported rather than silently dropped.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FORMAT_VERSION = "1.0"
"""The native dataset format this code reads and writes. Readers refuse any other."""

VideoId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"),
    Field(description="Video name, also its folder name: letters, digits, '_' and '-'."),
]
TrackId = Annotated[
    int, Field(ge=0, le=2**31 - 1, description="Track id, unique within a video, >= 0.")
]
FrameIndex = Annotated[int, Field(ge=0, le=2**31 - 1, description="0-based frame index.")]
RGB = Annotated[
    tuple[
        Annotated[int, Field(ge=0, le=255)],
        Annotated[int, Field(ge=0, le=255)],
        Annotated[int, Field(ge=0, le=255)],
    ],
    Field(description="sRGB colour, 0..255 per channel."),
]


class Record(BaseModel):
    """A typed, immutable, strictly-keyed on-disk record."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
