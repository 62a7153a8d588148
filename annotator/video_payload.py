"""What the browser gets about one video, built once and cached: meta, tracks and every box.

All boxes of a video travel in one compact, columnar JSON document sorted by frame, with the
offsets of each frame's rows, so the page steps through frames without asking the server for
boxes again. The document is kept pre-encoded (and pre-gzipped) and rebuilt only when the box
or object file changes on disk.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from uecity.dataset import Video

_COORDINATE_DECIMALS = 1  # tenths of a pixel: far below what a click can tell apart


@dataclass(frozen=True)
class VideoBoxes:
    """Every box of a video as parallel arrays sorted by frame, with per-frame row offsets."""

    frame_offsets: np.ndarray  # (num_frames + 1,) int64: rows of frame f are [o[f], o[f+1])
    track_id: np.ndarray  # (N,) int64
    xyxy: np.ndarray  # (N, 4) float64, absolute pixels, exclusive right/bottom edges

    def of_frame(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(int(self.frame_offsets[frame]), int(self.frame_offsets[frame + 1]))
        return self.track_id[rows], self.xyxy[rows]


@dataclass(frozen=True)
class VideoPayload:
    """The cached answer for one video: its boxes and the encoded JSON (plain and gzipped)."""

    stamp: tuple[float, ...]
    boxes: VideoBoxes
    track_ids: frozenset[int]
    life: dict[int, tuple[int, int]]  # track -> first and last frame with a box
    json_bytes: bytes
    gzip_bytes: bytes


def load_boxes(video: Video) -> VideoBoxes:
    table = video.boxes_table()
    num_frames = video.info.num_frames
    frames = table.column("frame").to_numpy()
    order = np.argsort(frames, kind="stable")
    frames = frames[order]
    keep = frames < num_frames  # rows past the last frame are the validator's business
    order, frames = order[keep], frames[keep]
    xyxy = np.stack(
        [table.column(c).to_numpy()[order] for c in ("x1", "y1", "x2", "y2")], axis=1
    ).astype(np.float64)  # (N, 4)
    track_id = table.column("track_id").to_numpy()[order].astype(np.int64)
    offsets = np.searchsorted(frames, np.arange(num_frames + 1)).astype(np.int64)
    return VideoBoxes(frame_offsets=offsets, track_id=track_id, xyxy=xyxy)


def _tracks(video: Video, boxes: VideoBoxes) -> list[dict[str, Any]]:
    """One entry per track: its object facts and the frames where it has a box."""
    frame_of_row = np.repeat(np.arange(len(boxes.frame_offsets) - 1), np.diff(boxes.frame_offsets))
    facts = {o.track_id: o for o in video.objects()} if video.objects_path.exists() else {}
    ids = sorted(set(facts) | set(boxes.track_id.tolist()))
    tracks = []
    for track_id in ids:
        rows = np.flatnonzero(boxes.track_id == track_id)
        record = facts.get(track_id)
        tracks.append(
            {
                "track_id": track_id,
                "category": record.category if record else None,
                "type": record.type if record else None,
                "colour": record.colour_name if record else None,
                "first_frame": int(frame_of_row[rows].min()) if len(rows) else None,
                "last_frame": int(frame_of_row[rows].max()) if len(rows) else None,
            }
        )
    return tracks


def build_payload(video: Video) -> VideoPayload:
    stamp = _stamp(video)
    boxes = load_boxes(video)
    info = video.info
    tracks = _tracks(video, boxes)
    document = {
        "video_id": video.video_id,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "num_frames": info.num_frames,
        "image_format": info.image_format,
        "tracks": tracks,
        "boxes": {
            "frame_offsets": boxes.frame_offsets.tolist(),
            "track_id": boxes.track_id.tolist(),
            # flat x1, y1, x2, y2 per row: a quarter of the size of a list of lists
            "xyxy": np.round(boxes.xyxy, _COORDINATE_DECIMALS).reshape(-1).tolist(),
        },
    }
    encoded = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return VideoPayload(
        stamp=stamp,
        boxes=boxes,
        track_ids=frozenset(t["track_id"] for t in tracks),
        life={
            t["track_id"]: (t["first_frame"], t["last_frame"])
            for t in tracks
            if t["first_frame"] is not None
        },
        json_bytes=encoded,
        gzip_bytes=gzip.compress(encoded, compresslevel=5),
    )


def _stamp(video: Video) -> tuple[float, ...]:
    """Modification times of the files the payload is built from (0 where missing)."""
    stamps = []
    for path in (video.info_path, video.boxes_path, video.objects_path):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except FileNotFoundError:
            stamps.append(0)
    return tuple(stamps)


class PayloadCache:
    """Per-video payloads, rebuilt when their source files change. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: dict[str, VideoPayload] = {}

    def get(self, video: Video) -> VideoPayload:
        stamp = _stamp(video)
        with self._lock:
            cached = self._payloads.get(video.video_id)
            if cached is not None and cached.stamp == stamp:
                return cached
            payload = build_payload(video)
            self._payloads[video.video_id] = payload
            return payload
