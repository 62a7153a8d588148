"""Online inference: track every test (video, expression) and write MOTChallenge predictions.

For each expression the video is tracked from its first frame with `tracker.track_step` and the
tracker's bookkeeping (new-track score, drop score, miss tolerance, β_ref). Frames are resized
to the run's test short side; boxes come back in the original frame's pixels and are written as
the files of a results folder: `RESULTS/<video>/<expression>/predict.txt` (the RMOT results
layout of `uecity.formats.refer_kitti`; MOTChallenge lines written by
`uecity.formats.mot_challenge`, the same writer as the ground truth of `mlstrack.evaluation`),
`tracks.txt` and `tracking.json` (`mlstrack.tracking_results`), optionally with a video of the
referred boxes drawn.

The tracker thresholds are the run's `TrackerConfig` (`RUN/model/tracker.json`, written by
`uecity train` and rewritten by `uecity calibrate`); options override them. The model's config
is never changed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from mlstrack.checkpoint import CheckpointError, from_pretrained
from mlstrack.data.refer_kitti import ReferExpression, ReferKittiIndex, VideoIndex
from mlstrack.data.transforms import read_rgb, resized_size, to_tensor
from mlstrack.model import MLSTrack
from mlstrack.track_state import TrackState
from mlstrack.tracker import track_step
from mlstrack.tracker_config import (
    CALIBRATION_FILE,
    TrackerConfig,
    read_calibrated,
    read_tracker_config,
)
from mlstrack.tracking_results import (
    SUMMARY_FILE,
    TRACKS_FILE,
    VIDEO_FILE,
    FrameResult,
    prediction_lines,
    track_lines,
)
from uecity.core.atomic import atomic_path, atomic_write_json, atomic_write_text
from uecity.core.errors import UsageError
from uecity.core.progress import ProgressEvent, ProgressFn
from uecity.core.record_io import load_yaml
from uecity.formats.mot_challenge import sequence_names
from uecity.formats.refer_kitti import SEQMAP, prediction_file

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferenceSettings:
    """How a run tracks: frame size (short side, None keeps the frames' size; long-side cap)
    and the tracker's thresholds. `calibrated` records the thresholds that came from the run's
    calibration (empty without one), for the summary."""

    short_side: int | None = None
    max_size: int | None = None
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    calibrated: dict[str, float] | None = None

    def with_tracker(self, **overrides: float | int | None) -> InferenceSettings:
        """The same settings with some tracker thresholds replaced (None keeps a value)."""
        return dataclasses.replace(self, tracker=self.tracker.replace(**overrides))


def load_run(
    run: str | Path, device: str | torch.device = "cpu"
) -> tuple[MLSTrack, InferenceSettings, Path]:
    """The model of a training run (`RUN/model`, else its newest checkpoint) or of a
    `save_pretrained` folder, with the run's inference frame size and the tracker config stored
    with the model (`tracker_config.read_tracker_config`)."""
    run = Path(run)
    candidates = [run / "model"]
    checkpoints = (
        sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").is_dir() else []
    )
    candidates += [c / "model" for c in reversed(checkpoints)]
    folder = next((c for c in candidates if (c / "config.json").is_file()), run)
    model = from_pretrained(folder, map_location=device).eval()
    short_side = max_size = None
    for place in (folder / "inference.yaml", run / "train_config.yaml"):
        if place.is_file():
            values = load_yaml(place, error=CheckpointError, what="run file") or {}
            short_side, max_size = values.get("test_short_side"), values.get("max_size")
            break
    calibrated = None
    if (folder / CALIBRATION_FILE).is_file():
        calibrated = read_calibrated(folder)
    return (
        model,
        InferenceSettings(short_side, max_size, read_tracker_config(folder), calibrated),
        folder,
    )


def track_expression(
    model: MLSTrack, video: VideoIndex, expression: ReferExpression, settings: InferenceSettings
) -> list[FrameResult]:
    """One FrameResult per frame of the video, boxes in the original frame's xyxy pixels."""
    return track_video(model, video, [expression], settings)[expression.name]


@torch.no_grad()
def track_video(
    model: MLSTrack,
    video: VideoIndex,
    expressions: list[ReferExpression],
    settings: InferenceSettings,
) -> dict[str, list[FrameResult]]:
    """Every expression of `expressions` tracked over `video`, frame by frame: each frame is
    read, resized and put through the backbone once (the sentence-independent work), then each
    expression runs the rest of the model with its own track state. The results are those of
    tracking each expression alone. Returns expression name → one FrameResult per frame."""
    device = next(model.parameters()).device
    texts = [model.encode_text([e.sentence]).to(device) for e in expressions]
    width, height = video.size_wh
    new_w, new_h = resized_size(width, height, settings.short_side, settings.max_size)
    scale = np.array([width / new_w, height / new_h, width / new_w, height / new_h])
    results: list[list[FrameResult]] = [[] for _ in expressions]
    tracks: list[TrackState | None] = [None] * len(expressions)
    for path in video.frame_paths:
        image = read_rgb(path)
        if (new_w, new_h) != (image.shape[1], image.shape[0]):
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        frame = to_tensor(image)[None].to(device)
        features = model.visual_features(frame)
        for k, text in enumerate(texts):
            tracks[k], result = track_step(
                model, frame, text, tracks[k], settings.tracker, features
            )
            results[k].append(_to_original_frame(result, scale, width, height))
    return {e.name: r for e, r in zip(expressions, results, strict=True)}


def _to_original_frame(
    result: FrameResult, scale: np.ndarray, width: int, height: int
) -> FrameResult:
    boxes = result.boxes_xyxy.astype(np.float64) * scale
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return FrameResult(
        result.ids, boxes.astype(np.float32), result.scores, result.refer_scores, result.referred
    )


def write_video(
    path: Path, video: VideoIndex, results: list[FrameResult], sentence: str, fps: float
) -> Path:
    """An MP4 of the video with the referred boxes, their ids and the sentence drawn."""
    width, height = video.size_wh
    with atomic_path(
        path, durable=False
    ) as temporary:  # .mp4 kept: OpenCV picks the container by it
        writer = cv2.VideoWriter(
            str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height)
        )
        if not writer.isOpened():
            raise UsageError(f"OpenCV cannot write an MP4 video to {path}")
        try:
            for frame_path, result in zip(video.frame_paths, results, strict=True):
                image = cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
                shown = result.output()
                for track_id, box in zip(shown.ids, shown.boxes_xyxy, strict=True):
                    colour = tuple(
                        int(c) for c in np.random.default_rng(int(track_id)).integers(64, 256, 3)
                    )
                    x1, y1, x2, y2 = (round(float(v)) for v in box)
                    cv2.rectangle(image, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, 2)
                    cv2.putText(
                        image,
                        str(int(track_id)),
                        (x1, max(12, y1 - 3)),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.45,
                        colour,
                        1,
                        cv2.LINE_AA,
                    )
                cv2.putText(
                    image,
                    sentence,
                    (6, height - 8),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.5,
                    (255, 255, 255),
                    1,
                    cv2.LINE_AA,
                )
                writer.write(image)
        finally:
            writer.release()
    return path


@dataclass(frozen=True)
class TrackSummary:
    out: Path
    sequences: int
    frames: int
    boxes: int
    seconds: float


def track_dataset(
    model: MLSTrack,
    index: ReferKittiIndex,
    out: str | Path,
    settings: InferenceSettings,
    *,
    sequences: list[tuple[str, str]] | None = None,
    video: bool = False,
    checkpoint: str = "",
    progress: ProgressFn | None = None,
) -> TrackSummary:
    """Track every (video, expression) of `sequences` (default: the test split) into `out`;
    `progress` hears of each video tracked (task "track", counted in sequences)."""
    out = Path(out)
    started = time.perf_counter()
    chosen = sequences if sequences is not None else index.test_sequences
    if not chosen:
        raise UsageError(f"{index.root} has no test sequences ({SEQMAP} is empty) to track")
    frames = boxes = 0
    by_video: dict[str, list[ReferExpression]] = {}
    for video_id, name in chosen:
        by_video.setdefault(video_id, []).append(index.expression(video_id, name))
    tracked: dict[tuple[str, str], list[FrameResult]] = {}
    for video_id, expressions in by_video.items():
        found = track_video(model, index.videos[video_id], expressions, settings)
        tracked.update({(video_id, name): r for name, r in found.items()})
        if progress is not None:
            progress(ProgressEvent("track", len(tracked), len(chosen), f"video {video_id}"))
    for video_id, name in chosen:
        expression = index.expression(video_id, name)
        frames_of = index.videos[video_id]
        results = tracked[(video_id, name)]
        lines = prediction_lines(results)
        predictions = prediction_file(out, video_id, name)
        folder = predictions.parent
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(predictions, "".join(lines), durable=False)
        atomic_write_text(folder / TRACKS_FILE, "".join(track_lines(results)), durable=False)
        if video:
            write_video(
                folder / VIDEO_FILE,
                frames_of,
                results,
                expression.sentence,
                index.frame_rate(expression.video_id),
            )
        frames += len(results)
        boxes += len(lines)
        logger.info("%s: %d boxes", expression.sequence, len(lines))
    summary = TrackSummary(out, len(chosen), frames, boxes, time.perf_counter() - started)
    atomic_write_json(
        out / SUMMARY_FILE,
        {
            "checkpoint": checkpoint,
            "data": str(index.root),
            "variant": model.config.variant,
            "tracker": settings.tracker.to_dict(),
            "calibrated": settings.calibrated or {},
            "short_side": settings.short_side,
            "max_size": settings.max_size,
            "sequences": sequence_names(chosen),
            "frames": frames,
            "boxes": boxes,
            "seconds": round(summary.seconds, 2),
        },
    )
    return summary
