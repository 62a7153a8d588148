"""`videos/<vid>/motion.json`: motion intervals ("turning left" from frame a to b) per track.

Intervals are inclusive at both ends. `source` tells the generator's automatic intervals
(`auto`) from those a person marked or corrected in the annotator (`manual`); an automatic
interval with a `timestamp` is one a person accepted as it is (`author` is who). The file carries
a revision number that every save increments, so a save based on a stale copy can be refused.

An automatic interval a person corrected, replaced or deleted is kept, as the generator wrote
it, in `history`: the live intervals are the reviewed truth, the history shows what the
generator got wrong. A file without history does not write the key (older files read as is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from uecity.records.base import FrameIndex, Record, TrackId


class MotionInterval(Record):
    track_id: TrackId
    label: str = Field(min_length=1, description="Motion label, e.g. 'turning left'.")
    start: FrameIndex = Field(description="First frame of the interval.")
    end: FrameIndex = Field(description="Last frame of the interval (inclusive).")
    source: Literal["auto", "manual"]
    author: str | None = Field(default=None, description="Who marked it (annotator's name).")
    timestamp: datetime | None = Field(default=None, description="When it was marked or edited.")

    @model_validator(mode="after")
    def _ordered(self) -> MotionInterval:
        if self.end < self.start:
            raise ValueError(f"interval ends (frame {self.end}) before it starts ({self.start})")
        return self


class MotionFile(Record):
    revision: int = Field(default=0, ge=0, description="Incremented by every save.")
    intervals: list[MotionInterval] = Field(default_factory=list)
    history: list[MotionInterval] = Field(
        default_factory=list,
        description="Automatic intervals a person has since corrected, replaced or deleted, "
        "as the generator wrote them (not in force).",
    )

    @model_serializer(mode="wrap")
    def _without_empty_history(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not self.history:
            data.pop("history", None)
        return data
