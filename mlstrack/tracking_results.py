"""What tracking produces, without torch: the per-frame `FrameResult` and the files of a
results folder.

`uecity track` writes `RESULTS/<video>/<expression>/predict.txt` (MOTChallenge lines
`frame,id,x,y,w,h,1,1,1` of the referred tracks, frames 1-based: frame 0 of the video is line
frame 1, the convention of the ground truth `mlstrack.evaluation` writes), `tracks.txt` (every
track seen, referred or not, with its class and referring scores: the threshold-free
diagnostics read it) and `RESULTS/tracking.json`. Evaluation reads these files with this module
alone, so `uecity evaluate` runs where torch is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uecity.core.box_formats import xyxy_to_mot_xywh

PREDICTION_FILE = "predict.txt"
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
        for track_id, (x, y, w, h) in zip(
            output.ids, xyxy_to_mot_xywh(output.boxes_xyxy), strict=True
        ):
            if w > 0 and h > 0:
                lines.append(f"{frame + 1},{int(track_id)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,1,1\n")
    return lines


def track_lines(results: list[FrameResult]) -> list[str]:
    """`frame,id,x,y,w,h,score,refer_score` of every track seen, frames 1-based."""
    lines = []
    for frame, result in enumerate(results):
        rows = zip(
            result.ids,
            xyxy_to_mot_xywh(result.boxes_xyxy),
            result.scores,
            result.refer_scores,
            strict=True,
        )
        for track_id, (x, y, w, h), score, refer in rows:
            lines.append(
                f"{frame + 1},{int(track_id)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},"
                f"{float(score):.4f},{float(refer):.4f}\n"
            )
    return lines


def read_track_lines(text: str) -> list[FrameResult]:
    """`track_lines` back into per-frame results (frames 1..max; `referred` all False)."""
    rows = np.array(
        [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    ).reshape(-1, 8)
    frames = int(rows[:, 0].max()) if len(rows) else 0
    results = []
    for frame in range(1, frames + 1):
        block = rows[rows[:, 0] == frame]
        xyxy = np.concatenate((block[:, 2:4], block[:, 2:4] + block[:, 4:6]), axis=1)
        results.append(
            FrameResult(
                block[:, 1].astype(np.int64),
                xyxy.astype(np.float32),
                block[:, 6].astype(np.float32),
                block[:, 7].astype(np.float32),
                np.zeros(len(block), dtype=bool),
            )
        )
    return results
