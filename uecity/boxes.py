"""`FrameBoxes`: the boxes of one frame as parallel numpy arrays (the in-memory box record).

Boxes are absolute pixels, `xyxy`, with exclusive right/bottom edges (DESIGN.md). The record
is validated on construction, indexable by a boolean mask or an index array, and has an empty
form, so code that handles a frame never special-cases "no objects".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FrameBoxes:
    """Boxes of one frame: `xyxy` (N, 4) float64, `track_id` (N,) int64, and per-box facts."""

    xyxy: npt.NDArray[np.float64]
    track_id: npt.NDArray[np.int64]
    visibility: npt.NDArray[np.float32] = field(default=None)  # type: ignore[assignment]
    truncation: npt.NDArray[np.float32] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        track_id = np.asarray(self.track_id, dtype=np.int64).reshape(-1)
        n = len(xyxy)
        visibility = (
            np.ones(n, np.float32)
            if self.visibility is None
            else np.asarray(self.visibility, np.float32).reshape(-1)
        )
        truncation = (
            np.zeros(n, np.float32)
            if self.truncation is None
            else np.asarray(self.truncation, np.float32).reshape(-1)
        )
        for name, array in (
            ("track_id", track_id),
            ("visibility", visibility),
            ("truncation", truncation),
        ):
            if len(array) != n:
                raise ValueError(f"FrameBoxes: {name} has {len(array)} entries for {n} boxes")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "track_id", track_id)
        object.__setattr__(self, "visibility", visibility)
        object.__setattr__(self, "truncation", truncation)

    @classmethod
    def empty(cls) -> FrameBoxes:
        return cls(xyxy=np.zeros((0, 4)), track_id=np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.track_id)

    def __getitem__(self, index: npt.ArrayLike | slice) -> FrameBoxes:
        return FrameBoxes(
            xyxy=self.xyxy[index],
            track_id=self.track_id[index],
            visibility=self.visibility[index],
            truncation=self.truncation[index],
        )

    @property
    def area(self) -> npt.NDArray[np.float64]:
        """Box areas in square pixels (exclusive edges: width = x2 - x1)."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def by_track(self, track_id: int) -> FrameBoxes:
        return self[self.track_id == track_id]
