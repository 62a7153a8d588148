"""Online inference: track every test (video, expression) and write MOTChallenge predictions.

For each expression the video is tracked from its first frame with `tracker.track_step` and the
tracker's bookkeeping (new-track score, drop score, miss tolerance, β_ref). Frames are resized
to the run's test short side; boxes come back in the original frame's pixels and are written
as `RESULTS/<video>/<expression>/predict.txt` (the RMOT results layout of
`uecity.formats.refer_kitti`), lines `frame,id,x,y,w,h,1,1,1` written by
`uecity.formats.mot_challenge.box_lines`, the same writer as the ground truth of
`mlstrack.evaluation` (frame 0 of the video is line frame 1). Next to it `tracks.txt` holds
every track seen in a frame, referred or not, with its class and referring scores
(`frame,id,x,y,w,h,score,refer_score`): the threshold-free diagnostics and the detection-only
row of `uecity evaluate` read it.
Optionally a video with the referred boxes drawn is written too.

The tracker thresholds come from the run's calibration (`RUN/model/calibration.json`, written
by `uecity train` / `uecity calibrate`), else from the model config; options override both.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from mlstrack.checkpoint import from_pretrained
from mlstrack.data.refer_kitti import ReferExpression, ReferKittiIndex, VideoIndex
from mlstrack.data.transforms import read_rgb, resized_size, to_tensor
from mlstrack.model import MLSTrack
from mlstrack.track_state import TrackState
from mlstrack.tracker import FrameResult, track_step
from uecity.atomic_write import atomic_write_json, atomic_write_text
from uecity.errors import UsageError
from uecity.formats.mot_challenge import box_lines, parse_lines, sequence_names
from uecity.formats.refer_kitti import SEQMAP, prediction_file

logger = logging.getLogger(__name__)

TRACKS_FILE = "tracks.txt"
VIDEO_FILE = "referred.mp4"
SUMMARY_FILE = "tracking.json"
TRACKER_FIELDS = (
    "new_track_score",
    "drop_score",
    "miss_tolerance",
    "refer_threshold",
    "min_box_area",
)
CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class InferenceSettings:
    """Frame size at inference: short side (None keeps the frames' size), long-side cap; the
    run's calibrated tracker thresholds (empty without a calibration)."""

    short_side: int | None = None
    max_size: int | None = None
    calibrated: dict[str, float] | None = None


def load_run(
    run: str | Path, device: str | torch.device = "cpu"
) -> tuple[MLSTrack, InferenceSettings, Path]:
    """The model of a training run (`RUN/model`, else its newest checkpoint) or of a
    `save_pretrained` folder, with the run's inference frame size."""
    run = Path(run)
    candidates = [run / "model"]
    checkpoints = (
        sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").is_dir() else []
    )
    candidates += [c / "model" for c in reversed(checkpoints)]
    folder = next((c for c in candidates if (c / "config.json").is_file()), run)
    model = from_pretrained(folder, map_location=device).eval()
    settings = InferenceSettings()
    for place in (folder / "inference.yaml", run / "train_config.yaml"):
        if place.is_file():
            values = yaml.safe_load(place.read_text(encoding="utf-8")) or {}
            settings = InferenceSettings(values.get("test_short_side"), values.get("max_size"))
            break
    calibration = folder / CALIBRATION_FILE
    if calibration.is_file():
        try:
            chosen = json.loads(calibration.read_text(encoding="utf-8"))["chosen"]
            values = {k: chosen[k] for k in TRACKER_FIELDS if k in chosen}
        except (ValueError, KeyError, TypeError) as error:
            raise UsageError(f"{calibration} is not a calibration file ({error})") from None
        with_tracker_settings(model, **values)
        settings = InferenceSettings(settings.short_side, settings.max_size, values)
    return model, settings, folder


def with_tracker_settings(model: MLSTrack, **overrides: float | int | None) -> MLSTrack:
    """The same model with tracker thresholds replaced (None values keep the config's)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - set(TRACKER_FIELDS)
    if unknown:
        raise UsageError(f"unknown tracker settings: {', '.join(sorted(unknown))}")
    if changes:
        model.config = model.config.replace(**changes)
    return model


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
            tracks[k], result = track_step(model, frame, text, tracks[k], features)
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


def write_video(
    path: Path, video: VideoIndex, results: list[FrameResult], sentence: str, fps: float = 10.0
) -> Path:
    """An MP4 of the video with the referred boxes, their ids and the sentence drawn."""
    width, height = video.size_wh
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
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
    os.replace(temporary, path)
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
    on_sequence: Callable[[str, int], None] | None = None,
) -> TrackSummary:
    """Track every (video, expression) of `sequences` (default: the test split) into `out`."""
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
            write_video(folder / VIDEO_FILE, frames_of, results, expression.sentence)
        frames += len(results)
        boxes += len(lines)
        logger.info("%s: %d boxes", expression.sequence, len(lines))
        if on_sequence is not None:
            on_sequence(expression.sequence, len(lines))
    summary = TrackSummary(out, len(chosen), frames, boxes, time.perf_counter() - started)
    tracker = {key: getattr(model.config, key) for key in TRACKER_FIELDS}
    atomic_write_json(
        out / SUMMARY_FILE,
        {
            "checkpoint": checkpoint,
            "data": str(index.root),
            "variant": model.config.variant,
            "tracker": tracker,
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
