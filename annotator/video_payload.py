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

from uecity.boxes import VideoBoxes
from uecity.dataset import Video

_COORDINATE_DECIMALS = 1  # tenths of a pixel: far below what a click can tell apart


@dataclass(frozen=True)
class VideoPayload:
    """The cached answer for one video: its boxes and the encoded JSON (plain and gzipped)."""

    stamp: tuple[float, ...]
    boxes: VideoBoxes  # sorted by (frame, track_id), frames of the video only
    frame_offsets: np.ndarray  # (num_frames + 1,) int64: rows of frame f are [o[f], o[f+1])
    track_ids: frozenset[int]
    life: dict[int, tuple[int, int]]  # track -> first and last frame with a box
    json_bytes: bytes
    gzip_bytes: bytes

    def boxes_of_frame(self, frame: int) -> VideoBoxes:
        return self.boxes[int(self.frame_offsets[frame]) : int(self.frame_offsets[frame + 1])]


def load_boxes(video: Video) -> VideoBoxes:
    """The video's boxes; rows past the last frame are left out (the validator's business)."""
    boxes = video.boxes()
    return boxes[boxes.frame < video.info.num_frames]


def _tracks(video: Video, boxes: VideoBoxes) -> list[dict[str, Any]]:
    """One entry per track: its object facts and the frames where it has a box."""
    facts = {o.track_id: o for o in video.objects()} if video.objects_path.exists() else {}
    ids = sorted(set(facts) | set(boxes.track_id.tolist()))
    tracks = []
    for track_id in ids:
        frames = boxes.by_track(track_id).frame
        record = facts.get(track_id)
        tracks.append(
            {
                "track_id": track_id,
                "category": record.category if record else None,
                "type": record.type if record else None,
                "colour": record.colour_name if record else None,
                "first_frame": int(frames.min()) if len(frames) else None,
                "last_frame": int(frames.max()) if len(frames) else None,
            }
        )
    return tracks


def build_payload(video: Video) -> VideoPayload:
    stamp = _stamp(video)
    boxes = load_boxes(video)
    info = video.info
    offsets = boxes.frame_offsets(info.num_frames)
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
            "frame_offsets": offsets.tolist(),
            "track_id": boxes.track_id.tolist(),
            # flat x1, y1, x2, y2 per row: a quarter of the size of a list of lists
            "xyxy": np.round(boxes.xyxy, _COORDINATE_DECIMALS).reshape(-1).tolist(),
        },
    }
    encoded = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return VideoPayload(
        stamp=stamp,
        boxes=boxes,
        frame_offsets=offsets,
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
