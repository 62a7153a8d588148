"""Threshold-free diagnostics of a tracking run: what the tracker saw, before any β_ref.

They read `tracks.txt` (every track seen in a frame, with its class and referring scores; see
`mlstrack.inference`) and the ground truth of all objects, not only the referred ones. In each
frame the tracks are matched one-to-one to the objects at IoU ≥ 0.5 (Hungarian on IoU). Then:

- localised: the share of objects (box-frames) a live track sits on;
- live tracks per frame on an object vs on background;
- class-score and referring-score quartiles of tracks on objects vs on background;
- referring AUC: among tracks on objects, how well the referring score ranks referred objects
  above unreferred ones (the Mann-Whitney statistic; 0.5 is chance), overall and split into
  sentences that occur in the training videos ("seen") and those that do not;
- the detection-only ("all objects") row: TrackEval HOTA of every track seen against every
  object, which scores detection and association without the sentence.

Written as `diagnostics.json` and `diagnostics.md` next to the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from mlstrack.data.refer_kitti import ReferKittiIndex
from mlstrack.evaluation.trackeval_run import COMBINED, METRIC_FIELDS, run_trackeval, summarise
from mlstrack.tracking_results import TRACKS_FILE, FrameResult, read_track_lines
from uecity.core.atomic import atomic_write_json, atomic_write_text
from uecity.core.errors import DatasetError
from uecity.formats.mot_challenge import box_lines, sequence_name

if TYPE_CHECKING:
    import torch

DIAGNOSTICS_JSON = "diagnostics.json"
DIAGNOSTICS_MARKDOWN = "diagnostics.md"
MATCH_IOU = 0.5


def referring_auc(referred: np.ndarray, others: np.ndarray) -> float | None:
    """P(a referred object's score > an unreferred one's), ties half; None without both."""
    if len(referred) == 0 or len(others) == 0:
        return None
    ranks = rankdata(np.concatenate((referred, others)))
    u = ranks[: len(referred)].sum() - len(referred) * (len(referred) + 1) / 2
    return float(u / (len(referred) * len(others)))


def _quartiles(values: list[float]) -> list[float] | None:
    if not values:
        return None
    return [round(float(q), 4) for q in np.percentile(values, [25, 50, 75])]


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of xyxy boxes: `box_ops.box_iou_xyxy` in numpy, so that evaluation
    runs without torch."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    wh = np.clip(bottom_right - top_left, 0, None)  # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)  # (N,)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)  # (M,)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-9)


@dataclass
class _Tally:
    """Counts and score lists of one group of sequences."""

    objects: int = 0
    localised: int = 0
    frames: int = 0
    on_object: int = 0
    on_background: int = 0
    class_true: list[float] = field(default_factory=list)
    class_false: list[float] = field(default_factory=list)
    refer_referred: list[float] = field(default_factory=list)
    refer_unreferred: list[float] = field(default_factory=list)
    refer_background: list[float] = field(default_factory=list)


def _all_objects_lines(index: ReferKittiIndex, video_id: str) -> list[str]:
    video = index.videos[video_id]
    lines = []
    for frame in range(video.num_frames):
        labels = video.labels(frame)
        lines += box_lines(frame, labels.ids, labels.boxes_xyxy)
    return lines


def _prediction_lines(frames: list[FrameResult]) -> list[str]:
    """Every track seen as a MOTChallenge prediction (the detection-only row)."""
    return [
        line
        for frame, result in enumerate(frames)
        for line in box_lines(frame, result.ids, result.boxes_xyxy)
    ]


def diagnose(
    results_dir: str | Path,
    index: ReferKittiIndex,
    *,
    sequences: list[tuple[str, str]] | None = None,
) -> dict:
    """The diagnostics of `RESULTS/<video>/<expression>/tracks.txt` as a JSON-ready dict."""
    results_dir = Path(results_dir)
    chosen = sequences if sequences is not None else index.test_sequences
    train_sentences = {e.sentence for v in index.train_videos for e in index.expressions.get(v, [])}
    overall, seen, unseen = _Tally(), _Tally(), _Tally()
    all_gt, all_predictions, lengths = {}, {}, {}
    missing = []
    for video_id, name in chosen:
        path = results_dir / video_id / name / TRACKS_FILE
        if not path.is_file():
            missing.append(f"{video_id}/{name}/{TRACKS_FILE}")
            continue
        expression = index.expression(video_id, name)
        video = index.videos[video_id]
        text = path.read_text(encoding="utf-8")
        frames = read_track_lines(text, path)
        split = seen if expression.sentence in train_sentences else unseen
        for frame in range(video.num_frames):
            labels = video.labels(frame)
            referred = expression.referred_at(frame)
            result = frames[frame] if frame < len(frames) else None
            boxes = result.boxes_xyxy if result is not None else np.zeros((0, 4))
            iou = _iou_matrix(labels.boxes_xyxy, boxes)
            rows, cols = linear_sum_assignment(-iou) if iou.size else ([], [])
            matched = {
                int(c): int(r) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= MATCH_IOU
            }
            for tally in (overall, split):
                tally.frames += 1
                tally.objects += len(labels.ids)
                tally.localised += len(matched)
                if result is None:
                    continue
                for k in range(len(result)):
                    score, refer = float(result.scores[k]), float(result.refer_scores[k])
                    if k in matched:
                        tally.on_object += 1
                        tally.class_true.append(score)
                        obj = int(labels.ids[matched[k]])
                        target = tally.refer_referred if obj in referred else tally.refer_unreferred
                        target.append(refer)
                    else:
                        tally.on_background += 1
                        tally.class_false.append(score)
                        tally.refer_background.append(refer)
        sequence = sequence_name(video_id, name)
        all_gt[sequence] = _all_objects_lines(index, video_id)
        all_predictions[sequence] = "".join(_prediction_lines(frames))
        lengths[sequence] = video.num_frames
    if missing:
        raise DatasetError(
            f"{len(missing)} of {len(chosen)} track files are missing (first: {missing[0]}); "
            "track again with this version of `uecity track`",
            path=results_dir,
        )
    detection = summarise(run_trackeval(all_gt, all_predictions, lengths)[COMBINED])
    return {
        "protocol": {
            "match": f"tracks seen in a frame matched 1:1 to all objects at IoU >= {MATCH_IOU}",
            "referring_auc": "among tracks on objects: P(referred score > unreferred score)",
            "detection_only": "TrackEval HOTA of every track seen against every object",
            "seen": "the sentence occurs among the training videos' sentences",
        },
        "sequences": len(chosen),
        "detection_only": detection,
        "overall": _summary(overall),
        "seen_sentences": _summary(seen),
        "unseen_sentences": _summary(unseen),
    }


def _summary(tally: _Tally) -> dict:
    frames = max(tally.frames, 1)
    return {
        "frames": tally.frames,
        "localised_share": round(tally.localised / tally.objects, 4) if tally.objects else None,
        "live_tracks_on_objects_per_frame": round(tally.on_object / frames, 3),
        "live_tracks_on_background_per_frame": round(tally.on_background / frames, 3),
        "class_score_quartiles": {
            "on_objects": _quartiles(tally.class_true),
            "on_background": _quartiles(tally.class_false),
        },
        "refer_score_quartiles": {
            "referred_objects": _quartiles(tally.refer_referred),
            "unreferred_objects": _quartiles(tally.refer_unreferred),
            "background": _quartiles(tally.refer_background),
        },
        "referring_auc": referring_auc(
            np.array(tally.refer_referred), np.array(tally.refer_unreferred)
        ),
    }


def diagnostics_markdown(diagnostics: dict) -> str:
    def fmt(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return " / ".join(f"{v:.2f}" for v in value)
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    detection = diagnostics["detection_only"]
    lines = [
        "# Diagnostics (threshold-free)",
        "",
        f"{diagnostics['sequences']} (video, expression) sequences; tracks matched to all "
        f"objects at IoU >= {MATCH_IOU}.",
        "",
        "Detection-only (every track seen vs every object, TrackEval): "
        + ", ".join(f"{name} {detection[name]:.2f}" for name in METRIC_FIELDS),
        "",
        "| | overall | seen sentences | unseen sentences |",
        "|---|---|---|---|",
    ]
    parts = [diagnostics[k] for k in ("overall", "seen_sentences", "unseen_sentences")]
    rows = [
        ("frames", lambda d: d["frames"]),
        ("objects localised (share)", lambda d: d["localised_share"]),
        ("live tracks on objects / frame", lambda d: d["live_tracks_on_objects_per_frame"]),
        ("live tracks on background / frame", lambda d: d["live_tracks_on_background_per_frame"]),
        ("referring AUC", lambda d: d["referring_auc"]),
        (
            "class score on objects (q1/median/q3)",
            lambda d: d["class_score_quartiles"]["on_objects"],
        ),
        (
            "class score on background",
            lambda d: d["class_score_quartiles"]["on_background"],
        ),
        (
            "refer score, referred objects",
            lambda d: d["refer_score_quartiles"]["referred_objects"],
        ),
        (
            "refer score, unreferred objects",
            lambda d: d["refer_score_quartiles"]["unreferred_objects"],
        ),
        ("refer score, background", lambda d: d["refer_score_quartiles"]["background"]),
    ]
    for label, get in rows:
        lines.append(f"| {label} | " + " | ".join(fmt(get(d)) for d in parts) + " |")
    return "\n".join(lines) + "\n"


def write_diagnostics(diagnostics: dict, out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / DIAGNOSTICS_JSON, diagnostics)
    atomic_write_text(out / DIAGNOSTICS_MARKDOWN, diagnostics_markdown(diagnostics))
    return out / DIAGNOSTICS_JSON, out / DIAGNOSTICS_MARKDOWN


def learning_curve(run_dir: str | Path, out: str | Path) -> Path | None:
    """`learning_curve.png`: the run's logged losses against the step (None without a log)."""
    import csv

    log = Path(run_dir) / "log.csv"
    if not log.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with log.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    steps = [int(r["step"]) for r in rows]
    held_out_log = Path(run_dir) / "diagnostics.csv"
    held_out = []
    if held_out_log.is_file():
        with held_out_log.open(newline="", encoding="utf-8") as handle:
            held_out = list(csv.DictReader(handle))
    figure, axes = plt.subplots(1, 2 if held_out else 1, figsize=(12 if held_out else 7, 4))
    axis = axes[0] if held_out else axes
    for key in ("loss", "loss_ce", "loss_bbox", "loss_giou", "loss_refer"):
        if key in rows[0]:
            axis.plot(steps, [float(r[key]) for r in rows], label=key, linewidth=1)
    axis.set_xlabel("step")
    axis.set_ylabel("training loss (clip-normalised)")
    axis.set_yscale("log")
    axis.legend()
    axis.set_title(f"learning curve: {Path(run_dir).name}")
    if held_out:
        right = axes[1]
        marks = [int(r["step"]) for r in held_out]
        for key, label in (
            ("localised_share", "objects localised (share)"),
            ("referring_auc", "referring AUC"),
            ("class_matched_median", "class score, matched (median)"),
            ("class_unmatched_p90", "class score, unmatched (p90)"),
        ):
            values = [float(r[key]) if r.get(key) else float("nan") for r in held_out]
            right.plot(marks, values, marker="o", label=label)
        right.set_xlabel("step")
        right.set_ylim(0, 1)
        right.legend()
        right.set_title("held-out training videos, one frame per expression")
    figure.tight_layout()
    path = Path(out) / "learning_curve.png"
    Path(out).mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def query_diagnostics(
    model: torch.nn.Module,
    index: ReferKittiIndex,
    videos: list[str],
    frames_per_expression: int = 2,
) -> dict[str, float | None]:
    """Threshold-free single-frame diagnostics of `model` on `videos` (held-out training videos
    during training): for a few evenly spaced frames of each expression, the detect queries of
    one forward pass (no track state) are matched 1:1 to all objects at IoU ≥ 0.5. Returns the
    share of objects localised, the median class score of matched queries and the 90th
    percentile of the unmatched ones, and the referring AUC among matched queries."""
    import torch

    from mlstrack.box_ops import box_cxcywh_to_xyxy_pixels
    from mlstrack.data.transforms import read_rgb, to_tensor

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    objects = localised = 0
    true_scores: list[float] = []
    false_scores: list[float] = []
    referred: list[float] = []
    unreferred: list[float] = []
    try:
        with torch.no_grad():
            for video_id in videos:
                video = index.videos[video_id]
                width, height = video.size_wh
                step = max(video.num_frames // (frames_per_expression + 1), 1)
                frames = [step * (k + 1) for k in range(frames_per_expression)]
                for expression in index.expressions.get(video_id, []):
                    text = model.encode_text([expression.sentence]).to(device)
                    for frame in frames:
                        if frame >= video.num_frames:
                            continue
                        image = to_tensor(read_rgb(video.frame_paths[frame]))[None].to(device)
                        outputs = model(image, text)
                        boxes = box_cxcywh_to_xyxy_pixels(outputs["pred_boxes"][0], (width, height))
                        scores = outputs["pred_logits"][0].sigmoid().max(-1).values.cpu().numpy()
                        refers = outputs["pred_refers"][0, :, 0].sigmoid().cpu().numpy()
                        labels = video.labels(frame)
                        iou = _iou_matrix(labels.boxes_xyxy, boxes.cpu().numpy())
                        rows, cols = linear_sum_assignment(-iou) if iou.size else ([], [])
                        pairs = [
                            (r, c)
                            for r, c in zip(rows, cols, strict=True)
                            if iou[r, c] >= MATCH_IOU
                        ]
                        objects += len(labels.ids)
                        localised += len(pairs)
                        matched = {int(c) for _, c in pairs}
                        on_frame = expression.referred_at(frame)
                        for r, c in pairs:
                            true_scores.append(float(scores[c]))
                            target = referred if int(labels.ids[r]) in on_frame else unreferred
                            target.append(float(refers[c]))
                        false_scores += [float(s) for q, s in enumerate(scores) if q not in matched]
    finally:
        model.train(was_training)
    auc = referring_auc(np.array(referred), np.array(unreferred))
    return {
        "localised_share": localised / objects if objects else None,
        "class_matched_median": float(np.median(true_scores)) if true_scores else None,
        "class_unmatched_p90": float(np.percentile(false_scores, 90)) if false_scores else None,
        "referring_auc": auc,
    }
