"""The annotator's JSON API over one dataset, independent of the HTTP server that carries it.

Routes (video ids must be ones the manifest lists; frame indices are decimal integers in range;
nothing from the client ever becomes a file path):

    GET  /api/videos                              the videos, with size and frame count
    GET  /api/vocabulary                          the dataset's vocabulary
    POST /api/vocabulary/motion_labels            {"label"}: add a motion label (dataset.json)
    GET  /api/videos/<vid>                        meta, tracks and every box of the video
    GET  /api/videos/<vid>/frames/<n>             the frame's image bytes
    GET  /api/videos/<vid>/frames/<n>/boxes       the frame's boxes
    GET  /api/videos/<vid>/motion                 the motion file (revision + intervals)
    PUT  /api/videos/<vid>/motion                 {"base_revision", "intervals"}: replace all
    POST /api/videos/<vid>/motion/edits           {"base_revision", "author", "edit", ...}

A save based on a stale revision answers 409 with a message and changes nothing; an edit that
breaks the interval rules answers 422. Every error is `{"error": message}` with a 4xx status.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from annotator import intervals as edits
from annotator.video_payload import PayloadCache
from uecity.dataset import Dataset, Video, now_utc
from uecity.errors import RevisionConflict
from uecity.records import MotionFile, MotionInterval

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_LABEL_LENGTH = 64
_VIDEO = r"(?P<vid>[A-Za-z0-9][A-Za-z0-9_-]{0,63})"
_FRAME = r"(?P<frame>[0-9]{1,9})"
_IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    gzip_body: bytes | None = None  # a pre-compressed form, sent when the client accepts it


class ApiError(Exception):
    """A request the API refuses: an HTTP status and a message for the annotator."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


def json_response(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode("utf-8"))


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MotionPut(_Body):
    base_revision: int = Field(ge=0)
    intervals: list[MotionInterval]


class MotionEdit(_Body):
    base_revision: int = Field(ge=0)
    author: str = Field(min_length=1, max_length=100)
    edit: Literal["mark", "move", "accept", "delete", "relabel"]
    track_id: int | None = None
    label: str | None = None
    first_click: int | None = Field(default=None, ge=0)
    second_click: int | None = Field(default=None, ge=0)
    index: int | None = Field(default=None, ge=0)
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)


class LabelAdd(_Body):
    label: str


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, f"bad request body: {where}: {first['msg']}") from None


class AnnotatorApi:
    """The API of one dataset. Thread-safe: the server calls it from many threads."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._videos: dict[str, Video] = {}
        self._videos_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._payloads = PayloadCache()
        self._routes = [
            ("GET", re.compile(r"/api/videos"), self.list_videos),
            ("GET", re.compile(r"/api/vocabulary"), self.vocabulary),
            ("POST", re.compile(r"/api/vocabulary/motion_labels"), self.add_motion_label),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}"), self.video_meta),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/frames/{_FRAME}"), self.frame_image),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/frames/{_FRAME}/boxes"), self.frame_boxes),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/motion"), self.get_motion),
            ("PUT", re.compile(rf"/api/videos/{_VIDEO}/motion"), self.put_motion),
            ("POST", re.compile(rf"/api/videos/{_VIDEO}/motion/edits"), self.edit_motion),
        ]

    # --- dispatch
    def handle(self, method: str, path: str, body: bytes) -> Response:
        """Answer one request; `path` is already percent-decoded and has no query string."""
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            try:
                return handler(body=body, **match.groupdict())
            except ApiError as error:
                return error_response(error.status, error.message)
        if allowed:
            return error_response(405, f"{method} is not allowed here (use {', '.join(allowed)})")
        return error_response(404, f"no such API path: {path}")

    # --- helpers
    def _video(self, vid: str) -> Video:
        if vid not in self.dataset.manifest.videos:
            raise ApiError(404, f"no video '{vid}' in this dataset")
        with self._videos_lock:
            video = self._videos.get(vid)
            if video is None:
                video = self._videos[vid] = self.dataset.video(vid)
            return video

    def _frame(self, video: Video, frame: str) -> int:
        index = int(frame)
        if index >= video.info.num_frames:
            raise ApiError(
                404, f"frame {index} is out of range (video has {video.info.num_frames} frames)"
            )
        return index

    @staticmethod
    def _motion_json(motion: MotionFile) -> dict[str, Any]:
        return motion.model_dump(mode="json")

    # --- handlers
    def list_videos(self, body: bytes) -> Response:
        videos = []
        for vid in self.dataset.manifest.videos:
            info = self._video(vid).info
            videos.append(
                {
                    "video_id": vid,
                    "width": info.width,
                    "height": info.height,
                    "num_frames": info.num_frames,
                    "fps": info.fps,
                }
            )
        return json_response({"dataset": self.dataset.manifest.name, "videos": videos})

    def vocabulary(self, body: bytes) -> Response:
        return json_response(self.dataset.manifest.vocabulary.model_dump(mode="json"))

    def add_motion_label(self, body: bytes) -> Response:
        label = " ".join(_parse(LabelAdd, body).label.split())
        if not label or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
            raise ApiError(400, f"a motion label is 1 to {MAX_LABEL_LENGTH} printable characters")
        with self._manifest_lock:
            manifest = self.dataset.manifest
            labels = manifest.vocabulary.motion_labels
            if label not in labels:
                vocabulary = manifest.vocabulary.model_copy(
                    update={"motion_labels": [*labels, label]}
                )
                self.dataset.write_manifest(manifest.model_copy(update={"vocabulary": vocabulary}))
                logger.info("added motion label %r to %s", label, self.dataset.root)
        return self.vocabulary(b"")

    def video_meta(self, body: bytes, vid: str) -> Response:
        payload = self._payloads.get(self._video(vid))
        return Response(200, payload.json_bytes, gzip_body=payload.gzip_bytes)

    def frame_image(self, body: bytes, vid: str, frame: str) -> Response:
        video = self._video(vid)
        index = self._frame(video, frame)
        try:
            data = video.frame_path(index).read_bytes()
        except FileNotFoundError:
            raise ApiError(404, f"frame {index} of video '{vid}' has no image file") from None
        return Response(
            200,
            data,
            content_type=_IMAGE_TYPES[video.info.image_format],
            headers={"Cache-Control": "private, max-age=3600"},
        )

    def frame_boxes(self, body: bytes, vid: str, frame: str) -> Response:
        video = self._video(vid)
        index = self._frame(video, frame)
        track_id, xyxy = self._payloads.get(video).boxes.of_frame(index)
        return json_response(
            {"frame": index, "track_id": track_id.tolist(), "xyxy": xyxy.round(1).tolist()}
        )

    def get_motion(self, body: bytes, vid: str) -> Response:
        return json_response(self._motion_json(self._read_motion(self._video(vid))))

    def put_motion(self, body: bytes, vid: str) -> Response:
        video = self._video(vid)
        request = _parse(MotionPut, body)
        now = now_utc()
        stamped = []
        for interval in request.intervals:
            if interval.source == "manual" and not interval.author:
                raise ApiError(422, f"{edits.describe(interval)} is manual but has no author")
            if interval.source == "manual" and interval.timestamp is None:
                interval = interval.model_copy(update={"timestamp": now})
            stamped.append(interval)
        self._check_intervals(video, stamped)
        saved = self._save(video, stamped, request.base_revision)
        return json_response({"motion": self._motion_json(saved), "message": "saved"})

    def edit_motion(self, body: bytes, vid: str) -> Response:
        video = self._video(vid)
        request: MotionEdit = _parse(MotionEdit, body)
        current = self._read_motion(video)
        if current.revision != request.base_revision:
            raise ApiError(409, self._conflict_message(request.base_revision, current.revision))
        try:
            result = self._apply(video, current.intervals, request)
        except edits.IntervalEditError as error:
            raise ApiError(422, str(error)) from None
        self._check_intervals(video, result.intervals)
        saved = self._save(video, result.intervals, request.base_revision)
        return json_response(
            {
                "motion": self._motion_json(saved),
                "message": result.message,
                "selected": result.changed_index,
            }
        )

    # --- motion
    def _apply(
        self, video: Video, intervals: list[MotionInterval], request: MotionEdit
    ) -> edits.EditResult:
        now, author = now_utc(), request.author.strip()
        if not author:
            raise ApiError(400, "the annotator's name is empty")

        def need(name: str) -> Any:
            value = getattr(request, name)
            if value is None:
                raise ApiError(400, f"a '{request.edit}' edit needs '{name}'")
            return value

        if request.edit == "mark":
            label = need("label")
            self._check_label(label)
            return edits.mark(
                intervals,
                track_id=need("track_id"),
                label=label,
                first_click=need("first_click"),
                second_click=need("second_click"),
                author=author,
                now=now,
            )
        index = need("index")
        if request.edit == "move":
            if request.start is None and request.end is None:
                raise ApiError(400, "a 'move' edit needs 'start' or 'end'")
            return edits.move_ends(
                intervals, index, start=request.start, end=request.end, author=author, now=now
            )
        if request.edit == "accept":
            return edits.accept(intervals, index, author=author, now=now)
        if request.edit == "relabel":
            label = need("label")
            self._check_label(label)
            return edits.relabel(intervals, index, label=label, author=author, now=now)
        return edits.delete(intervals, index)

    def _check_label(self, label: str) -> None:
        if label not in self.dataset.manifest.vocabulary.motion_labels:
            raise ApiError(422, f"'{label}' is not a motion label of this dataset (add it first)")

    def _check_intervals(self, video: Video, intervals: list[MotionInterval]) -> None:
        tracks = self._payloads.get(video).track_ids
        num_frames = video.info.num_frames
        for interval in intervals:
            if interval.track_id not in tracks:
                raise ApiError(422, f"{edits.describe(interval)}: the video has no such track")
            if interval.end >= num_frames:
                raise ApiError(
                    422, f"{edits.describe(interval)} ends past the last frame ({num_frames - 1})"
                )
        try:
            edits.check_no_overlaps(intervals)
        except edits.IntervalEditError as error:
            raise ApiError(422, str(error)) from None

    def _read_motion(self, video: Video) -> MotionFile:
        try:
            return video.motion()
        except Exception as error:  # a broken file on disk: say so instead of a 500
            raise ApiError(409, f"the motion file cannot be read: {error}") from None

    @staticmethod
    def _conflict_message(base: int, saved: int) -> str:
        return (
            f"Conflict: the motion file was saved by someone else (revision {saved}; this page "
            f"has revision {base}). Nothing was overwritten: reload and apply your edit again."
        )

    def _save(self, video: Video, intervals: list[MotionInterval], base: int) -> MotionFile:
        try:
            saved = video.write_motion(intervals, base_revision=base)
        except RevisionConflict:
            raise ApiError(409, self._conflict_message(base, video.motion().revision)) from None
        logger.info("saved %s revision %d", video.motion_path, saved.revision)
        return saved
