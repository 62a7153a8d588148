"""The annotator's JSON API over one dataset, independent of the HTTP server that carries it.

Routes (video ids must be ones the manifest lists; frame indices are decimal integers in range;
nothing from the client ever becomes a file path):

    GET  /api/videos                              the videos: size, frame count, review counts
    GET  /api/vocabulary                          the dataset's vocabulary
    POST /api/vocabulary/motion_labels            {"label"}: add a motion label (dataset.json)
    GET  /api/videos/<vid>                        meta, tracks and every box of the video
    GET  /api/videos/<vid>/frames/<n>             the frame's image bytes
    GET  /api/videos/<vid>/frames/<n>/boxes       the frame's boxes
    GET  /api/videos/<vid>/motion                 the motion file (revision, intervals, history)
    GET  /api/videos/<vid>/revision               {"revision", "motion_labels"}: what pages poll
    PUT  /api/videos/<vid>/motion                 {"base_revision", "intervals"}: replace all
    POST /api/videos/<vid>/motion/edits           {"base_revision", "author", "edit", ...}

Edits name their interval by value (`target`) and are applied to the file as it is now, so
edits of two annotators that touch different intervals both land (the answer says when an edit
was merged onto a newer revision); an edit whose interval changed meanwhile answers 409. A
full-list `PUT` replaces everything, so it must be based on the saved revision (409 if not) and
is checked exactly like an edit. An edit that breaks the interval rules answers 422. Every
error is `{"error": message}` with a 4xx status, and names dataset files relative to the
dataset folder.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from annotator import intervals as edits
from annotator.video_payload import PayloadCache
from uecity.core.errors import RevisionConflict, UECityError
from uecity.core.record_io import validation_message
from uecity.dataset import Dataset, Video, now_utc
from uecity.records import MotionFile, MotionInterval
from uecity.records.base import FrameIndex, TrackId

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_LABEL_LENGTH = 64
MAX_AUTHOR_LENGTH = 100
_MERGE_ATTEMPTS = 8  # an edit re-applied on a newer revision when another writer got in first
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
    base_revision: int = Field(ge=0, le=2**62)
    intervals: list[MotionInterval]


class MotionEdit(_Body):
    base_revision: int = Field(ge=0, le=2**62)
    author: str = Field(min_length=1, max_length=MAX_AUTHOR_LENGTH)
    edit: Literal["mark", "move", "accept", "accept_all", "delete", "relabel"]
    target: MotionInterval | None = None  # the edited interval, as the page saw it
    track_id: TrackId | None = None
    label: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL_LENGTH)
    first_click: FrameIndex | None = None
    second_click: FrameIndex | None = None
    start: FrameIndex | None = None
    end: FrameIndex | None = None


class LabelAdd(_Body):
    label: str = Field(max_length=4 * MAX_LABEL_LENGTH)


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise ApiError(400, f"bad request body: {validation_message(error)[1]}") from None


def review_counts(intervals: list[MotionInterval]) -> dict[str, int]:
    counts = Counter(edits.review_state(interval) for interval in intervals)
    return {state: counts.get(state, 0) for state in ("unreviewed", "accepted", "corrected")}


class AnnotatorApi:
    """The API of one dataset. Thread-safe: the server calls it from many threads."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._videos: dict[str, Video] = {}
        self._videos_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._manifest_stamp = self._stamp_of_manifest()
        self._payloads = PayloadCache()
        self._motions: dict[str, tuple[tuple[int, int, int], MotionFile]] = {}
        self._routes = [
            ("GET", re.compile(r"/api/videos"), self.list_videos),
            ("GET", re.compile(r"/api/vocabulary"), self.vocabulary),
            ("POST", re.compile(r"/api/vocabulary/motion_labels"), self.add_motion_label),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}"), self.video_meta),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/frames/{_FRAME}"), self.frame_image),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/frames/{_FRAME}/boxes"), self.frame_boxes),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/motion"), self.get_motion),
            ("GET", re.compile(rf"/api/videos/{_VIDEO}/revision"), self.get_revision),
            ("PUT", re.compile(rf"/api/videos/{_VIDEO}/motion"), self.put_motion),
            ("POST", re.compile(rf"/api/videos/{_VIDEO}/motion/edits"), self.edit_motion),
        ]

    # --- dispatch
    def handle(self, method: str, path: str, body: bytes) -> Response:
        """Answer one request; `path` is already percent-decoded and has no query string.

        HEAD is answered as GET (the server sends no body)."""
        allowed = []
        wanted = "GET" if method == "HEAD" else method
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != wanted:
                allowed.append(route_method)
                continue
            try:
                return handler(body=body, **match.groupdict())
            except ApiError as error:
                return error_response(error.status, error.message)
            except UECityError as error:  # a file of the dataset that cannot be read
                return error_response(409, self.dataset_message(error))
        if allowed:
            return error_response(405, f"{method} is not allowed here (use {', '.join(allowed)})")
        return error_response(404, f"no such API path: {path}")

    def dataset_message(self, error: UECityError) -> str:
        """The error's message with its file named relative to the dataset folder."""
        where = ""
        if error.path is not None:
            try:
                where = error.path.resolve().relative_to(self.dataset.root.resolve()).as_posix()
            except ValueError:
                where = error.path.name
            where = where if where != "." else "the dataset folder"
            where += f" [{error.field}]: " if error.field else ": "
        elif error.field:
            where = f"{error.field}: "
        message = where + str(error.args[0])
        return message.replace(str(self.dataset.root.resolve()), "<dataset>").replace(
            str(self.dataset.root), "<dataset>"
        )

    # --- helpers
    def _video(self, vid: str) -> Video:
        if vid not in self.manifest().videos:
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

    def _stamp_of_manifest(self) -> tuple[int, int]:
        try:
            stat = self.dataset.manifest_path(self.dataset.root).stat()
        except OSError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)

    def manifest(self) -> Any:
        """The dataset's manifest, read again when another process changed dataset.json."""
        with self._manifest_lock:
            stamp = self._stamp_of_manifest()
            if stamp != self._manifest_stamp:
                try:
                    self.dataset.reload_manifest()
                except UECityError as error:  # half-edited by hand: keep serving the last good
                    logger.warning("keeping the previous manifest: %s", error)
                self._manifest_stamp = stamp
            return self.dataset.manifest

    @staticmethod
    def _motion_json(motion: MotionFile) -> dict[str, Any]:
        data = motion.model_dump(mode="json")
        data.setdefault("history", [])
        return data

    # --- handlers
    def list_videos(self, body: bytes) -> Response:
        videos = []
        for vid in self.manifest().videos:
            video = self._video(vid)
            try:
                info = video.info
            except UECityError as error:
                videos.append({"video_id": vid, "error": self.dataset_message(error)})
                continue
            entry: dict[str, Any] = {
                "video_id": vid,
                "width": info.width,
                "height": info.height,
                "num_frames": info.num_frames,
                "fps": info.fps,
            }
            try:
                entry["review"] = review_counts(self._read_motion(video).intervals)
            except ApiError as error:
                entry["review"] = None
                entry["motion_error"] = error.message
            videos.append(entry)
        return json_response({"dataset": self.manifest().name, "videos": videos})

    def vocabulary(self, body: bytes) -> Response:
        return json_response(self.manifest().vocabulary.model_dump(mode="json"))

    def add_motion_label(self, body: bytes) -> Response:
        label = " ".join(_parse(LabelAdd, body).label.split())
        if not label or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
            raise ApiError(400, f"a motion label is 1 to {MAX_LABEL_LENGTH} printable characters")
        with self._manifest_lock:
            before = self.dataset.manifest.vocabulary.motion_labels
            manifest = self.dataset.add_motion_labels([label])
            self._manifest_stamp = self._stamp_of_manifest()
        if label not in before:
            logger.info("added motion label %r", label)
        return json_response(manifest.vocabulary.model_dump(mode="json"))

    def video_meta(self, body: bytes, vid: str) -> Response:
        payload = self._payloads.get(self._video(vid))
        return Response(200, payload.json_bytes, gzip_body=payload.gzip_bytes)

    def frame_image(self, body: bytes, vid: str, frame: str) -> Response:
        video = self._video(vid)
        index = self._frame(video, frame)
        try:
            data = video.frame_path(index).read_bytes()
        except OSError:
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
        boxes = self._payloads.get(video).boxes_of_frame(index)
        return json_response(
            {
                "frame": index,
                "track_id": boxes.track_id.tolist(),
                "xyxy": boxes.xyxy.round(1).tolist(),
            }
        )

    def get_motion(self, body: bytes, vid: str) -> Response:
        return json_response(self._motion_json(self._read_motion(self._video(vid))))

    def get_revision(self, body: bytes, vid: str) -> Response:
        motion = self._read_motion(self._video(vid))
        labels = self.manifest().vocabulary.motion_labels
        return json_response({"revision": motion.revision, "motion_labels": labels})

    def put_motion(self, body: bytes, vid: str) -> Response:
        video = self._video(vid)
        request = _parse(MotionPut, body)
        now = now_utc()
        stamped = []
        for interval in request.intervals:
            if interval.source == "manual" and not (interval.author or "").strip():
                raise ApiError(422, f"{edits.describe(interval)} is manual but has no author")
            if interval.author is not None and len(interval.author) > MAX_AUTHOR_LENGTH:
                raise ApiError(422, f"{edits.describe(interval)}: the author's name is too long")
            if interval.source == "manual" and interval.timestamp is None:
                interval = interval.model_copy(update={"timestamp": now})
            stamped.append(interval)
        for label in sorted({interval.label for interval in stamped}):
            self._check_label(label)
        self._check_intervals(video, stamped, life=True)
        current = self._read_motion(video)
        if current.revision != request.base_revision:
            raise ApiError(409, self._conflict_message(request.base_revision, current.revision))
        gone = [i for i in current.intervals if i.source == "auto" and i not in stamped]
        saved = self._save(video, stamped, request.base_revision, [*current.history, *gone])
        return json_response({"motion": self._motion_json(saved), "message": "saved"})

    def edit_motion(self, body: bytes, vid: str) -> Response:
        video = self._video(vid)
        request: MotionEdit = _parse(MotionEdit, body)
        author = request.author.strip()
        if not author:
            raise ApiError(400, "the annotator's name is empty")
        for _ in range(_MERGE_ATTEMPTS):
            current = self._read_motion(video)
            try:
                result = self._apply(video, current.intervals, request, author)
            except edits.IntervalGone as error:
                raise ApiError(409, str(error)) from None
            except edits.IntervalEditError as error:
                raise ApiError(422, str(error)) from None
            except ValidationError as error:
                raise ApiError(
                    422, f"the edit gives an invalid interval: {validation_message(error)[1]}"
                ) from None
            selected = None if result.changed is None else result.changed.model_dump(mode="json")
            if result.intervals == sorted(current.intervals, key=edits.sort_key):
                # nothing to change (all accepted already, accepting a manual one): no revision
                return json_response(
                    {
                        "motion": self._motion_json(current),
                        "message": result.message,
                        "selected": selected,
                    }
                )
            self._check_intervals(video, result.intervals)
            history = [*current.history, *result.superseded] if result.superseded else None
            try:
                saved = video.write_motion(
                    result.intervals, base_revision=current.revision, history=history
                )
            except RevisionConflict:
                continue  # another writer got in between: apply the edit to its file
            logger.info("saved %s revision %d", vid, saved.revision)
            message = result.message
            if current.revision != request.base_revision:
                message += f" (merged onto revision {current.revision}, saved by someone else)"
            return json_response(
                {"motion": self._motion_json(saved), "message": message, "selected": selected}
            )
        raise ApiError(409, "the motion file is changing too fast to apply this edit; try again")

    # --- motion
    def _apply(
        self, video: Video, intervals: list[MotionInterval], request: MotionEdit, author: str
    ) -> edits.EditResult:
        now = now_utc()
        life = self._payloads.get(video).life

        def need(name: str) -> Any:
            value = getattr(request, name)
            if value is None:
                raise ApiError(400, f"a '{request.edit}' edit needs '{name}'")
            return value

        if request.edit == "mark":
            label, track_id = need("label"), need("track_id")
            self._check_label(label)
            self._check_track(video, track_id)
            return edits.mark(
                intervals,
                track_id=track_id,
                label=label,
                first_click=need("first_click"),
                second_click=need("second_click"),
                life=life.get(track_id),
                author=author,
                now=now,
            )
        if request.edit == "accept_all":
            if request.label is not None:
                self._check_label(request.label)
            return edits.accept_all(
                intervals, track_id=request.track_id, label=request.label, author=author, now=now
            )
        target = need("target")
        if request.edit == "move":
            if request.start is None and request.end is None:
                raise ApiError(400, "a 'move' edit needs 'start' or 'end'")
            return edits.move_ends(
                intervals,
                target,
                start=request.start,
                end=request.end,
                life=life.get(target.track_id),
                author=author,
                now=now,
            )
        if request.edit == "accept":
            return edits.accept(intervals, target, author=author, now=now)
        if request.edit == "relabel":
            label = need("label")
            self._check_label(label)
            return edits.relabel(intervals, target, label=label, author=author, now=now)
        return edits.delete(intervals, target)

    def _check_label(self, label: str) -> None:
        if label not in self.manifest().vocabulary.motion_labels:
            raise ApiError(422, f"'{label}' is not a motion label of this dataset (add it first)")

    def _check_track(self, video: Video, track_id: int) -> None:
        if track_id not in self._payloads.get(video).track_ids:
            raise ApiError(422, f"video '{video.video_id}' has no track {track_id}")

    def _check_intervals(
        self, video: Video, intervals: list[MotionInterval], *, life: bool = False
    ) -> None:
        """Known tracks, frames inside the video, no same-label overlaps; with `life`, also
        inside the track's life (edits clamp their ends to it, so only full lists need it)."""
        payload = self._payloads.get(video)
        num_frames = video.info.num_frames
        for interval in intervals:
            if interval.track_id not in payload.track_ids:
                raise ApiError(422, f"{edits.describe(interval)}: the video has no such track")
            if interval.end >= num_frames:
                raise ApiError(
                    422, f"{edits.describe(interval)} ends past the last frame ({num_frames - 1})"
                )
            try:
                if life:
                    edits.check_within_life(interval, payload.life.get(interval.track_id))
            except edits.IntervalEditError as error:
                raise ApiError(422, str(error)) from None
        try:
            edits.check_no_overlaps(intervals)
        except edits.IntervalEditError as error:
            raise ApiError(422, str(error)) from None

    def _read_motion(self, video: Video) -> MotionFile:
        """The video's motion file, parsed again only when it changed on disk (every page
        polls the revision once a second)."""
        try:
            stat = video.motion_path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        cached = self._motions.get(video.video_id)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            motion = video.motion()
        except UECityError as error:  # a broken file on disk: say so instead of a 500
            raise ApiError(
                409, f"the motion file cannot be read: {self.dataset_message(error)}"
            ) from None
        if stamp is not None:
            self._motions[video.video_id] = (stamp, motion)
        return motion

    @staticmethod
    def _conflict_message(base: int, saved: int) -> str:
        return (
            f"Conflict: the motion file was saved by someone else (revision {saved}; this page "
            f"has revision {base}). Nothing was overwritten: reload and apply your edit again."
        )

    def _save(
        self,
        video: Video,
        intervals: list[MotionInterval],
        base: int,
        history: list[MotionInterval] | None = None,
    ) -> MotionFile:
        try:
            saved = video.write_motion(intervals, base_revision=base, history=history)
        except RevisionConflict:
            raise ApiError(409, self._conflict_message(base, video.motion().revision)) from None
        logger.info("saved %s revision %d", video.video_id, saved.revision)
        return saved
