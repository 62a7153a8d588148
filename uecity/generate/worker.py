"""One video, start to finish: setup → populate → simulate → render → post-process → metadata.

A worker call owns one video. It writes into a staging folder (`<out>/.partial/<vid>/`) and
moves the finished video folder into `<out>/videos/<vid>` with one rename after its last file
(`video.json`) is written, so a video folder under `videos/` is always complete: a resumed run
skips it, and anything in `.partial/` is thrown away and redone.

Randomness: the video's `SeedSequence` is spawned into four generators (camera, demand, SUMO,
renderer), so each part draws the same numbers whatever else changes.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from uecity.camera import Camera, auto_camera
from uecity.core.atomic import replace_folder
from uecity.core.errors import SpecError
from uecity.core.progress import ProgressEvent, ProgressFn
from uecity.dataset import Dataset, Video
from uecity.image_files import encode_image
from uecity.motion.auto import LabelConfig, Trajectory, auto_intervals
from uecity.records import (
    CameraExtrinsics,
    CameraIntrinsics,
    CameraModel,
    DatasetManifest,
    GeneratorInfo,
    MotionInterval,
    ObjectRecord,
    VideoInfo,
)
from uecity.render.actors import actors_box_corners
from uecity.render.mask_boxes import (
    Annotation,
    Rect,
    VisibleBoxes,
    annotate,
    boxes_from_mask,
    search_rectangles,
    silhouette_pixels,
)
from uecity.render.protocol import PendingFrame, RenderedFrame, Renderer
from uecity.scene.spec import SceneSpec
from uecity.traffic.demand import ActorSpec, build_demand
from uecity.traffic.network import Network, build_network
from uecity.traffic.simulation import TrafficSimulation, WorldState, sumo_seed

if TYPE_CHECKING:  # the Unreal stack is imported only when a run uses it
    from uecity.unreal.backend import UnrealCvSettings

log = logging.getLogger(__name__)

PARTIAL = ".partial"


@dataclass(frozen=True)
class VideoJob:
    """Everything one worker needs for one video (picklable)."""

    spec: SceneSpec
    index: int
    video_id: str
    seed_sequence: np.random.SeedSequence
    out: Path
    unrealcv: UnrealCvSettings | None = None  # where the engine is, for backend: unrealcv

    def generators(self) -> dict[str, np.random.Generator]:
        names = ("camera", "demand", "sumo", "render")
        children = self.seed_sequence.spawn(len(names))
        return {n: np.random.default_rng(s) for n, s in zip(names, children, strict=True)}

    @property
    def video_seed(self) -> int:
        return int(self.seed_sequence.generate_state(1)[0])


@dataclass
class VideoSummary:
    """What one video produced, and where its time went (seconds)."""

    video_id: str
    frames: int = 0
    objects: int = 0
    boxes: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def video_camera(spec: SceneSpec, network: Network, index: int, rng: np.random.Generator) -> Camera:
    """The camera of video `index`: the spec's cameras in turn, or an automatic placement."""
    cap = spec.capture
    auto = spec.auto_cameras
    if auto is not None:
        return auto_camera(
            rng,
            cap.width,
            cap.height,
            cap.fps,
            [a.angle_deg for a in network.template.arms],
            auto.height_m,
            auto.distance_m,
            auto.fov_deg,
        )
    cams = spec.cameras
    assert isinstance(cams, list)
    c = cams[index % len(cams)]
    return Camera.from_fov(
        cap.width,
        cap.height,
        c.fov_deg,
        (c.x, c.y, c.height_m),
        c.yaw_deg,
        c.pitch_deg,
        c.roll_deg,
        cap.fps,
    )


def build_renderer(
    job: VideoJob, camera: Camera, network: Network, rng: np.random.Generator
) -> Renderer:
    """The render backend of the spec: the embedded `sim`, or Unreal Engine via UnrealCV."""
    backend = job.spec.run.backend
    if backend == "sim":
        from uecity.render.sim import SimRenderer

        return SimRenderer(camera, network, rng)
    if backend == "unrealcv":
        from uecity.unreal.backend import UnrealCvSettings

        return (job.unrealcv or UnrealCvSettings()).build_renderer(camera)
    raise SpecError(f"unknown backend {backend!r}", field="run.backend")


def camera_record(camera: Camera) -> CameraModel:
    return CameraModel(
        intrinsics=CameraIntrinsics(fx=camera.fx, fy=camera.fy, cx=camera.cx, cy=camera.cy),
        extrinsics=CameraExtrinsics(
            position_m=(camera.x, camera.y, camera.z),
            yaw_deg=camera.yaw_deg,
            pitch_deg=camera.pitch_deg,
            roll_deg=camera.roll_deg,
        ),
    )


class _Tracks:
    """Per-actor trajectories and instance ids, gathered frame by frame."""

    def __init__(self) -> None:
        self.instance_ids: dict[str, int] = {}
        self.specs: dict[int, ActorSpec] = {}
        self.rows: dict[int, list[tuple]] = {}

    def observe(self, world: WorldState) -> None:
        for a in world.actors:
            iid = self.instance_ids.setdefault(a.sumo_id, len(self.instance_ids))
            self.specs[iid] = a.spec
            self.rows.setdefault(iid, []).append(
                (world.frame, a.x, a.y, a.heading, a.speed, a.parked, a.on_junction, a.on_crossing)
            )


def _frame_boxes(
    camera: Camera, rendered: RenderedFrame, world: WorldState, ids: dict[str, int], spec: SceneSpec
) -> tuple[list[Annotation], list[int]]:
    """The annotated boxes of one rendered frame, and the ids whose pixels reach the edge of
    the rectangle searched for them (the mesh is bigger than its 3D box: the box is cut)."""
    if rendered.unoccluded_pixels is None:  # any actor may show: the box search tells
        actors = [a for a in world.actors if a.sumo_id in ids]
    else:
        actors = [a for a in world.actors if ids[a.sumo_id] in rendered.unoccluded_pixels]
    amodal, search = search_rectangles(camera, actors, ids)
    visible = boxes_from_mask(rendered.instance_mask, search)
    unoccluded = rendered.unoccluded_pixels
    if unoccluded is None:
        shown = set(visible.ids.tolist())
        seen = [a for a in actors if ids[a.sumo_id] in shown]
        unoccluded = {
            ids[a.sumo_id]: silhouette_pixels(camera, c)
            for a, c in zip(seen, actors_box_corners(seen), strict=True)
        }
    run = spec.run
    boxes = annotate(
        visible,
        amodal,
        unoccluded,
        camera.width,
        camera.height,
        run.min_visibility,
        run.min_box_pixels,
    )
    return boxes, _reaching_the_edge(visible, search, camera.width, camera.height)


def _reaching_the_edge(
    visible: VisibleBoxes, search: dict[int, Rect], width: int, height: int
) -> list[int]:
    """Ids whose visible box touches a side of its search rectangle inside the image."""
    out = []
    for iid, (x1, y1, x2, y2) in zip(visible.ids.tolist(), visible.xyxy.tolist(), strict=True):
        rx0, ry0, rx1, ry1 = search[iid]
        if (0 < rx0 == x1) or (0 < ry0 == y1) or (x2 == rx1 < width) or (y2 == ry1 < height):
            out.append(iid)
    return out


def _trajectories(
    tracks: _Tracks, box_rows: list[tuple], final_ids: dict[int, int]
) -> list[Trajectory]:
    by_track: dict[int, list[tuple]] = {}
    for row in box_rows:
        by_track.setdefault(row[1], []).append(row)
    out = []
    for iid, tid in final_ids.items():
        rows = np.array(tracks.rows[iid], dtype=np.float64)
        boxes = by_track.get(iid, [])
        out.append(
            Trajectory(
                track_id=tid,
                category=tracks.specs[iid].category,
                frames=rows[:, 0].astype(np.int64),
                x=rows[:, 1],
                y=rows[:, 2],
                heading=rows[:, 3],
                speed=rows[:, 4],
                parked=rows[:, 5].astype(bool),
                on_junction=rows[:, 6].astype(bool),
                on_crossing=rows[:, 7].astype(bool),
                box_frames=np.array([b[0] for b in boxes], np.int64),
                box_cx=np.array([(b[2] + b[4]) / 2 for b in boxes]),
                box_bottom=np.array([b[5] for b in boxes], np.float64),
            )
        )
    return out


BOX_COLUMNS = [
    "frame", "track_id", "x1", "y1", "x2", "y2", "visibility", "truncation",
    "amodal_x1", "amodal_y1", "amodal_x2", "amodal_y2",
]  # fmt: skip


class FrameSource(Protocol):
    """Where a video's world states come from: SUMO (puppeteer) or the engine (observe)."""

    def frames(self, count: int) -> Iterator[WorldState]: ...


def _record(
    sim: FrameSource,
    renderer: Renderer,
    staging: Video,
    job: VideoJob,
    tracks: _Tracks,
    t: dict[str, float],
    progress: ProgressFn | None,
) -> list[tuple]:
    """Simulate, render, box and write every frame; returns the box rows (instance ids).

    Pipelined by one frame: frame n + 1 is simulated and started before frame n is finished,
    boxed, encoded and written, so a backend with an engine of its own renders the next frame
    while we work on this one.
    """
    spec, run = job.spec, job.spec.run
    camera = renderer.camera
    box_rows: list[tuple] = []
    frames = sim.frames(run.frames)
    started: deque[tuple[WorldState, PendingFrame]] = deque()
    cut_frames: dict[int, int] = {}  # instance id → boxes cut at the edge of its 3D box
    for index in range(run.frames):
        clock = time.perf_counter()
        while len(started) + index < min(index + 2, run.frames):  # this frame and the next
            upcoming = next(frames)
            tracks.observe(upcoming)
            now = time.perf_counter()
            t["sumo"] += now - clock
            started.append((upcoming, renderer.start(upcoming, tracks.instance_ids)))
            clock = time.perf_counter()
            t["render"] += clock - now
        world, pending = started.popleft()
        rendered = pending.result()
        now = time.perf_counter()
        t["render"] += now - clock
        boxes, cut = _frame_boxes(camera, rendered, world, tracks.instance_ids, spec)
        for iid in cut:
            cut_frames[iid] = cut_frames.get(iid, 0) + 1
        clock, now = now, time.perf_counter()
        t["boxes"] += now - clock
        data = encode_image(rendered.image_bgr, run.image_format, jpeg_quality=run.jpeg_quality)
        clock, now = now, time.perf_counter()
        t["encode"] += now - clock
        # Plain writes: the staging folder becomes visible only as a whole.
        (staging.frames_folder / f"{index:06d}.{run.image_format}").write_bytes(data)
        t["write"] += time.perf_counter() - now
        for b in boxes:
            box_rows.append(
                (index, b.instance_id, *b.xyxy, b.visibility, b.truncation, *b.amodal_xyxy)
            )
        if progress is not None and (index % 10 == 9 or index == run.frames - 1):
            progress(ProgressEvent(job.video_id, index + 1, run.frames))
    if cut_frames:
        assets = sorted({renderer.asset_name(tracks.specs[iid]) for iid in cut_frames})
        log.warning(
            "%s: %d actors showed pixels beyond their projected 3D box in %d boxes, which are "
            "cut at that box's edge; the meshes of %s are bigger than their size_m in the "
            "asset catalog",
            job.video_id, len(cut_frames), sum(cut_frames.values()), ", ".join(assets),
        )  # fmt: skip
    return box_rows


def _post_process(
    staging: Video,
    tracks: _Tracks,
    box_rows: list[tuple],
    camera: Camera,
    fps: float,
    asset_name: Callable[[ActorSpec], str],
    auto_motion: bool = True,
) -> tuple[int, int]:
    """Final track ids (0.. in order of first annotated frame), objects, boxes and auto motion.

    Without `auto_motion` (observe mode: no route intents are known) the motion file is written
    empty, for the annotator. Returns (objects, boxes) written.
    """
    first_seen: dict[int, int] = {}
    for row in box_rows:
        first_seen.setdefault(row[1], row[0])
    order = sorted(first_seen, key=lambda iid: (first_seen[iid], iid))
    final_ids = {iid: k for k, iid in enumerate(order)}
    staging.write_objects(
        [_object_record(final_ids[iid], tracks.specs[iid], asset_name) for iid in order]
    )
    table = pd.DataFrame(box_rows, columns=BOX_COLUMNS)
    table = table.astype({c: "float64" for c in BOX_COLUMNS[2:]})
    table["frame"] = table["frame"].astype("int64")
    table["track_id"] = table["track_id"].map(final_ids).astype("int64")
    staging.write_boxes(table)
    if not auto_motion:
        staging.write_motion([])
        return len(order), len(table)
    trajectories = _trajectories(tracks, box_rows, final_ids)
    staging.write_motion(
        [
            MotionInterval(
                track_id=i.track_id,
                label=i.label,
                start=i.start,
                end=i.end,
                source="auto",
                author="uecity-generate",
            )
            for i in auto_intervals(trajectories, camera, LabelConfig(fps=fps))
        ]
    )
    return len(order), len(table)


def generate_video(job: VideoJob, progress: ProgressFn | None = None) -> VideoSummary:
    """Generate one video into `job.out/videos/<vid>` (atomically, as a whole folder)."""
    spec, run, cap = job.spec, job.spec.run, job.spec.capture
    t = dict.fromkeys(("setup", "sumo", "render", "boxes", "encode", "write", "post"), 0.0)
    clock = time.perf_counter()
    # --- setup: staging folder, network, camera, demand, renderer
    rng = job.generators()
    staging_root = job.out / PARTIAL / job.video_id
    shutil.rmtree(staging_root, ignore_errors=True)
    staging = Dataset(staging_root, _placeholder_manifest(job.video_id)).video(job.video_id)
    staging.frames_folder.mkdir(parents=True)
    tracks = _Tracks()
    frame_times_s: tuple[float, ...] | None = None  # SUMO's frames are 1/fps apart
    with tempfile.TemporaryDirectory(prefix="uecity-video-") as scratch:
        network = build_network(spec.intersection, Path(scratch))
        camera = video_camera(spec, network, job.index, rng["camera"])
        duration = run.warmup_s + run.frames / cap.fps + 5.0
        demand = build_demand(spec.demand, network, duration, Path(scratch), rng["demand"])
        renderer = build_renderer(job, camera, network, rng["render"])
        t["setup"] = time.perf_counter() - clock
        try:
            if run.mode == "observe":
                # The engine moves its own traffic: it is the frame source and the renderer.
                from uecity.unreal.observe import EngineObserver

                observer = EngineObserver(renderer, cap.fps)  # type: ignore[arg-type]
                observer.warm_up(run.warmup_s)
                box_rows = _record(observer, observer, staging, job, tracks, t, progress)
                asset_name = observer.asset_name
                frame_times_s = tuple(observer.timestamps_s)
            else:
                seed = sumo_seed(rng["sumo"])
                with TrafficSimulation(network, demand, cap.fps, seed, Path(scratch)) as sim:
                    # --- populate: the scene is busy when recording starts
                    clock = time.perf_counter()
                    sim.warm_up(run.warmup_s)
                    t["sumo"] += time.perf_counter() - clock
                    # --- simulate, render, boxes, frames
                    box_rows = _record(sim, renderer, staging, job, tracks, t, progress)
                asset_name = renderer.asset_name
        finally:
            renderer.close()
    # --- post-process: track ids, objects, boxes, motion
    clock = time.perf_counter()
    objects, boxes = _post_process(
        staging, tracks, box_rows, camera, cap.fps, asset_name, run.mode == "puppeteer"
    )
    # --- metadata, last; then the whole folder moves into place in one rename
    staging.write_info(_video_info(job, camera, renderer, frame_times_s))
    replace_folder(staging.folder, job.out / "videos" / job.video_id)
    shutil.rmtree(staging_root, ignore_errors=True)
    t["post"] = time.perf_counter() - clock
    return VideoSummary(job.video_id, run.frames, objects, boxes, t)


def _video_info(
    job: VideoJob, camera: Camera, renderer: Renderer, frame_times_s: tuple[float, ...] | None
) -> VideoInfo:
    spec, run, cap = job.spec, job.spec.run, job.spec.capture
    scene: dict[str, str | int | float | bool] = {
        "template": spec.intersection.template,
        "warmup_s": run.warmup_s,
        "min_visibility": run.min_visibility,
    }
    lighting = getattr(renderer, "lighting", None)
    if lighting is not None:
        scene["sun_elevation_deg"] = round(math.degrees(math.asin(float(lighting.sun[2]))), 3)
    return VideoInfo(
        video_id=job.video_id,
        width=cap.width,
        height=cap.height,
        fps=cap.fps,
        num_frames=run.frames,
        image_format=run.image_format,
        backend=run.backend,
        seed=job.video_seed,
        camera=camera_record(camera),
        scene=scene,
        frame_times_s=frame_times_s,
    )


def _object_record(
    track_id: int, spec: ActorSpec, asset_name: Callable[[ActorSpec], str]
) -> ObjectRecord:
    return ObjectRecord(
        track_id=track_id,
        category=spec.category,  # type: ignore[arg-type]
        type=spec.type,
        colour_name=spec.colour_name,
        colour_rgb=spec.colour_rgb,
        size_m=spec.size_m,
        asset=asset_name(spec),
    )


def _placeholder_manifest(video_id: str) -> DatasetManifest:
    """A manifest object for the staging folder's `Video` access (never written)."""
    return DatasetManifest(
        name="staging", videos=[video_id], generator=GeneratorInfo(name="uecity", version="0")
    )
