"""What tracking produces, without torch: the per-frame `FrameResult` and the files of a
results folder.

`uecity track` writes `RESULTS/<video>/<expression>/predict.txt` (the layout of
`uecity.formats.refer_kitti`: MOTChallenge lines `frame,id,x,y,w,h,1,1,1` of the referred
tracks, written by `uecity.formats.mot_challenge` as the ground truth is), `tracks.txt` (every
track seen, referred or not, with its class and referring scores: the threshold-free
diagnostics read it) and `RESULTS/tracking.json`. Evaluation reads these files with this module
alone, so `uecity evaluate` runs where torch is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uecity.formats.mot_challenge import box_lines, parse_lines

TRACKS_FILE = "tracks.txt"
VIDEO_FILE = "referred.mp4"
SUMMARY_FILE = "tracking.json"


@dataclass(frozen=True)
class FrameResult:
    """The tracks seen in one frame: parallel arrays of K rows.

    ids (K,) int64; boxes_xyxy (K, 4) float32 absolute pixels; scores and refer_scores (K,);
    referred (K,) bool: the tracks output for the sentence (β_ref and the area filter passed).
    """

    ids: np.ndarray
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    refer_scores: np.ndarray
    referred: np.ndarray

    def __post_init__(self) -> None:
        k = self.ids.shape[0]
        if self.boxes_xyxy.shape != (k, 4):
            raise ValueError(f"boxes_xyxy must be ({k}, 4), got {self.boxes_xyxy.shape}")
        if self.scores.shape != (k,) or self.refer_scores.shape != (k,):
            raise ValueError("scores and refer_scores must have one value per id")
        if self.referred.shape != (k,) or self.referred.dtype != np.bool_:
            raise ValueError("referred must be a bool array with one value per id")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def select(self, mask: np.ndarray) -> FrameResult:
        """The rows where `mask` is true."""
        return FrameResult(
            self.ids[mask],
            self.boxes_xyxy[mask],
            self.scores[mask],
            self.refer_scores[mask],
            self.referred[mask],
        )

    def output(self) -> FrameResult:
        """Only the referred (output) tracks."""
        return self.select(self.referred)

    def rethreshold(
        self, refer_threshold: float, min_area: float, frame_area: float
    ) -> FrameResult:
        """The same tracks with `referred` decided again for other output thresholds
        (`min_area` a share of `frame_area`, both in the boxes' pixels)."""
        areas = box_areas(self.boxes_xyxy)
        referred = (self.refer_scores >= refer_threshold) & (areas >= min_area * frame_area)
        return FrameResult(self.ids, self.boxes_xyxy, self.scores, self.refer_scores, referred)


def box_areas(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(K,) areas of (K, 4) xyxy boxes, 0 for empty ones."""
    wh = np.clip(boxes_xyxy[:, 2:4] - boxes_xyxy[:, 0:2], 0, None)
    return wh[:, 0] * wh[:, 1]


def prediction_lines(results: list[FrameResult]) -> list[str]:
    """MOTChallenge lines `frame,id,x,y,w,h,1,1,1` of the referred tracks, frames 1-based,
    empty boxes left out."""
    lines = []
    for frame, result in enumerate(results):
        output = result.output()
        boxes = output.boxes_xyxy.astype(np.float64)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        lines += box_lines(frame, output.ids[keep], boxes[keep])
    return lines


TRACK_COLUMNS = 2  # score, refer_score


def track_lines(results: list[FrameResult]) -> list[str]:
    """`frame,id,x,y,w,h,score,refer_score` of every track seen, frames 1-based."""
    lines = []
    for frame, result in enumerate(results):
        scores = np.stack((result.scores, result.refer_scores), axis=1)
        lines += box_lines(
            frame, result.ids, result.boxes_xyxy.astype(np.float64), scores, column_format=".4f"
        )
    return lines


def read_track_lines(text: str, path: str | Path = TRACKS_FILE) -> list[FrameResult]:
    """`track_lines` back into per-frame results (frames 1..max; `referred` all False)."""
    rows = parse_lines(text, path, columns=TRACK_COLUMNS)
    frames = int(rows.frames.max()) + 1 if len(rows) else 0
    results = []
    for frame in range(frames):
        block = rows.at(frame)
        results.append(
            FrameResult(
                block.ids,
                block.boxes_xyxy.astype(np.float32),
                block.columns[:, 0].astype(np.float32),
                block.columns[:, 1].astype(np.float32),
                np.zeros(len(block), dtype=bool),
            )
        )
    return results
