"""`videos/<vid>/objects.json`: the tracked objects of a video and their appearance facts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from uecity.records.base import RGB, Record, TrackId

Category = Literal["vehicle", "pedestrian", "cyclist"]


class ObjectRecord(Record):
    """One tracked object: what it is and how it looks, for its whole life in the video."""

    track_id: TrackId
    category: Category
    type: str = Field(min_length=1, description="Fine type: car, suv, van, bus, truck, adult...")
    colour_name: str | None = Field(
        default=None,
        description="Named colour ('black', 'red'...); null where the colour is unknown (an "
        "engine actor in observe mode never seen well enough): no colour element refers to it.",
    )
    colour_rgb: RGB | None = Field(
        default=None, description="The rendered base colour; null where it is unknown."
    )
    size_m: tuple[float, float, float] | None = Field(
        default=None, description="3D size (length, width, height), metres."
    )
    asset: str | None = Field(default=None, description="Render asset (Blueprint, mesh) used.")

    @model_validator(mode="after")
    def _size_positive(self) -> ObjectRecord:
        if self.size_m is not None and min(self.size_m) <= 0:
            raise ValueError(f"size_m must be positive, got {list(self.size_m)}")
        return self


class ObjectsFile(Record):
    """The objects of one video, sorted by track id."""

    objects: list[ObjectRecord]

    @model_validator(mode="after")
    def _unique_ids(self) -> ObjectsFile:
        ids = [o.track_id for o in self.objects]
        if len(ids) != len(set(ids)):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"track ids listed twice: {duplicates}")
        return self
