"""Tracker calibration: thresholds chosen on held-out training videos, stored with the run.

A model's class and referring scores are bimodal, and where their modes sit changes from run to
run, so fixed thresholds compare calibrations, not models. `calibrate` tracks every expression
of the held-out training videos (never the test videos) once per (`new_track_score`,
`drop_score`) pair of the grid, keeping every track seen with its scores; the output thresholds
(`refer_threshold` β_ref, `min_box_area`) are then swept over those same tracks without
tracking again. Each combination is scored by TrackEval's combined HOTA against the held-out
videos' ground truth, and the best one is `chosen`. `uecity train` runs it after training when
the run holds videos out (`calibration_videos`), `uecity calibrate` on demand; the result goes to
`RUN/model/calibration.json` (the evidence) and the chosen values into the run's tracker config,
`RUN/model/tracker.json`, which `uecity track` reads unless an option overrides a value.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mlstrack.data.refer_kitti import ReferKittiIndex
from mlstrack.evaluation.trackeval_run import COMBINED, gt_lines, run_trackeval, summarise
from mlstrack.inference import InferenceSettings, track_video
from mlstrack.model import MLSTrack
from mlstrack.tracker_config import CALIBRATION_FILE, TrackerConfig, write_tracker_config
from mlstrack.tracking_results import FrameResult, prediction_lines
from uecity.core.atomic import atomic_write_json
from uecity.core.errors import UsageError
from uecity.core.progress import ProgressEvent, ProgressFn

logger = logging.getLogger(__name__)

# (new_track_score, drop_score) pairs: a track starts at the first, counts a miss under the second.
# With per-image normalisation the demo model's optimum moved up to the old grid's top (0.7/0.55);
# 0.3/0.2 never won and was the slowest pair (its tracks pile up), so the grid moved up a step.
TRACK_GRID: tuple[tuple[float, float], ...] = (
    (0.4, 0.3),
    (0.5, 0.35),
    (0.6, 0.45),
    (0.7, 0.55),
    (0.8, 0.65),
)
REFER_GRID: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
AREA_GRID: tuple[float, ...] = (0.0, 0.0005, 0.001)  # share of the frame's area


@dataclass(frozen=True)
class Calibration:
    """The chosen thresholds, their held-out HOTA, and every combination tried; `tracker` is
    the run's tracker config with the chosen thresholds."""

    chosen: dict[str, float]
    tracker: TrackerConfig
    hota: float
    videos: list[str]
    sequences: int
    rows: list[dict[str, float]]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "held_out_combined_hota": round(self.hota, 3),
            "videos": self.videos,
            "sequences": self.sequences,
            "grid": self.rows,
            "seconds": round(self.seconds, 1),
            "protocol": "combined HOTA (TrackEval) on held-out training videos; test videos "
            "are never used",
        }


def calibrate(
    model: MLSTrack,
    index: ReferKittiIndex,
    videos: list[str],
    settings: InferenceSettings,
    *,
    track_grid: tuple[tuple[float, float], ...] = TRACK_GRID,
    refer_grid: tuple[float, ...] = REFER_GRID,
    area_grid: tuple[float, ...] = AREA_GRID,
    progress: ProgressFn | None = None,
) -> Calibration:
    """The thresholds that score the best combined HOTA on `videos`' expressions; after each
    (new-track, drop) pair, `progress` gets the best held-out HOTA so far (task "calibrate")."""
    started = time.perf_counter()
    sequences = [(v, e) for v in videos for e in index.expressions.get(v, [])]
    if not sequences:
        raise UsageError(
            f"no expressions to calibrate on in the held-out videos ({', '.join(videos) or '-'})"
        )
    names = [e.sequence for _, e in sequences]
    gt = {e.sequence: gt_lines(index, e) for _, e in sequences}
    lengths = {e.sequence: index.videos[v].num_frames for v, e in sequences}
    areas = {
        e.sequence: float(index.videos[v].size_wh[0] * index.videos[v].size_wh[1])
        for v, e in sequences
    }
    rows: list[dict[str, float]] = []
    best = 0.0  # over every combination tried so far
    for pair, (new_score, drop_score) in enumerate(track_grid, start=1):
        trial = settings.with_tracker(
            new_track_score=new_score,
            drop_score=min(drop_score, new_score),
            refer_threshold=0.0,
            min_box_area=0.0,
        )
        tracked = {}
        for video_id in videos:
            expressions = index.expressions.get(video_id, [])
            found = track_video(model, index.videos[video_id], expressions, trial)
            tracked.update({e.sequence: found[e.name] for e in expressions})
        for refer, area in itertools.product(refer_grid, area_grid):
            predictions = {
                name: "".join(
                    prediction_lines(_rethreshold(tracked[name], refer, area, areas[name]))
                )
                for name in names
            }
            scores = summarise(run_trackeval(gt, predictions, lengths)[COMBINED])
            rows.append(
                {
                    "new_track_score": new_score,
                    "drop_score": min(drop_score, new_score),
                    "refer_threshold": refer,
                    "min_box_area": area,
                    "HOTA": round(scores["HOTA"], 3),
                    "DetA": round(scores["DetA"], 3),
                    "AssA": round(scores["AssA"], 3),
                }
            )
            best = max(best, scores["HOTA"])
        if progress is not None:
            item = f"new-track {new_score:.2f} / drop {drop_score:.2f}"
            values = {"best held-out HOTA": best}
            progress(ProgressEvent("calibrate", pair, len(track_grid), item, values))
    top = max(rows, key=lambda r: r["HOTA"])
    chosen = {
        k: top[k] for k in ("new_track_score", "drop_score", "refer_threshold", "min_box_area")
    }
    return Calibration(
        chosen,
        settings.tracker.replace(**chosen),
        top["HOTA"],
        list(videos),
        len(sequences),
        rows,
        time.perf_counter() - started,
    )


def _rethreshold(
    results: list[FrameResult], refer: float, area: float, frame_area: float
) -> list[FrameResult]:
    return [r.rethreshold(refer, area, frame_area) for r in results]


def write_calibration(calibration: Calibration, model_dir: str | Path) -> Path:
    """`model_dir/calibration.json` and the chosen tracker config, `model_dir/tracker.json`
    (each atomically; the evidence first, so a tracker.json never lacks its calibration)."""
    path = Path(model_dir) / CALIBRATION_FILE
    atomic_write_json(path, calibration.to_dict())
    write_tracker_config(calibration.tracker, model_dir)
    return path
