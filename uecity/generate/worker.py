"""One video, start to finish: setup → populate → simulate → render → post-process → metadata.

A worker call owns one video. It writes into a staging folder (`<out>/.partial/<vid>/`) and
moves the finished video folder into `<out>/videos/<vid>` with one rename after its last file
(`video.json`) is written, so a video folder under `videos/` is always complete: a resumed run
skips it, and anything in `.partial/` is thrown away and redone.

Randomness: the video's `SeedSequence` is spawned into four generators (camera, demand, SUMO,
renderer), so each part draws the same numbers whatever else changes.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uecity.boxes import VideoBoxes
from uecity.camera import Camera, auto_camera
from uecity.core.atomic import replace_folder
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
from uecity.render.mask_boxes import frame_boxes
from uecity.render.protocol import FrameSource, PendingFrame, RenderBackend, Renderer
from uecity.scene.spec import SceneSpec
from uecity.traffic.demand import ActorSpec, build_demand
from uecity.traffic.network import Network, build_network
from uecity.traffic.simulation import TrafficSimulation, WorldState, sumo_seed

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
    backend: RenderBackend  # the run's render backend (`uecity.render.backends.build_backend`)

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


def _trajectories(
    tracks: _Tracks, boxes: VideoBoxes, final_ids: dict[int, int]
) -> list[Trajectory]:
    """The trajectory of each track for auto motion; `boxes` carries instance ids."""
    out = []
    for iid, tid in final_ids.items():
        rows = np.array(tracks.rows[iid], dtype=np.float64)
        own = boxes.by_track(iid)
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
                box_frames=own.frame,
                box_cx=(own.xyxy[:, 0] + own.xyxy[:, 2]) / 2,
                box_bottom=own.xyxy[:, 3],
            )
        )
    return out


def _record(
    source: FrameSource,
    renderer: Renderer,
    staging: Video,
    job: VideoJob,
    tracks: _Tracks,
    t: dict[str, float],
    progress: ProgressFn | None,
) -> VideoBoxes:
    """Simulate, render, box and write every frame; returns the boxes (instance ids).

    Pipelined by one frame: frame n + 1 is simulated and started before frame n is finished,
    boxed, encoded and written, so a backend with an engine of its own renders the next frame
    while we work on this one.
    """
    run = job.spec.run
    camera = renderer.camera
    per_frame: list[VideoBoxes] = []
    frames = source.frames(run.frames)
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
        boxes, cut = frame_boxes(
            camera, rendered, world, tracks.instance_ids, run.min_visibility, run.min_box_pixels
        )
        per_frame.append(boxes)
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
    return VideoBoxes.concatenate(per_frame)


def _post_process(
    staging: Video,
    tracks: _Tracks,
    boxes: VideoBoxes,
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
    for frame, iid in boxes.frame_track_pairs():
        first_seen.setdefault(iid, frame)
    order = sorted(first_seen, key=lambda iid: (first_seen[iid], iid))
    final_ids = {iid: k for k, iid in enumerate(order)}
    staging.write_objects(
        [_object_record(final_ids[iid], tracks.specs[iid], asset_name) for iid in order]
    )
    staging.write_boxes(boxes.with_track_ids([final_ids[i] for i in boxes.track_id.tolist()]))
    if not auto_motion:
        staging.write_motion([])
        return len(order), len(boxes)
    trajectories = _trajectories(tracks, boxes, final_ids)
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
    return len(order), len(boxes)


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
    with (
        tempfile.TemporaryDirectory(prefix="uecity-video-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        network = build_network(spec.intersection, Path(scratch))
        camera = video_camera(spec, network, job.index, rng["camera"])
        duration = run.warmup_s + run.frames / cap.fps + 5.0
        demand = build_demand(spec.demand, network, duration, Path(scratch), rng["demand"])
        renderer = job.backend.renderer(camera, network, rng["render"])
        stack.callback(renderer.close)
        source: FrameSource
        if run.mode == "observe":  # the engine moves its own traffic: it is the frame source
            renderer = source = job.backend.observe(renderer, cap.fps)
        else:  # SUMO moves the traffic; the backend renders its poses
            seed = sumo_seed(rng["sumo"])
            source = stack.enter_context(
                TrafficSimulation(network, demand, cap.fps, seed, Path(scratch))
            )
        t["setup"] = time.perf_counter() - clock
        # --- populate: the scene is busy when recording starts
        clock = time.perf_counter()
        source.warm_up(run.warmup_s)
        t["sumo"] += time.perf_counter() - clock
        # --- simulate, render, boxes, frames
        boxes = _record(source, renderer, staging, job, tracks, t, progress)
    # --- post-process: track ids, objects, boxes, motion
    clock = time.perf_counter()
    objects, written = _post_process(
        staging, tracks, boxes, camera, cap.fps, renderer.asset_name, run.mode == "puppeteer"
    )
    # --- metadata, last; then the whole folder moves into place in one rename
    staging.write_info(_video_info(job, camera, renderer, source.frame_times_s))
    replace_folder(staging.folder, job.out / "videos" / job.video_id)
    shutil.rmtree(staging_root, ignore_errors=True)
    t["post"] = time.perf_counter() - clock
    return VideoSummary(job.video_id, run.frames, objects, written, t)


def _video_info(
    job: VideoJob, camera: Camera, renderer: Renderer, frame_times_s: tuple[float, ...] | None
) -> VideoInfo:
    spec, run, cap = job.spec, job.spec.run, job.spec.capture
    scene: dict[str, str | int | float | bool] = {
        "template": spec.intersection.template,
        "warmup_s": run.warmup_s,
        "min_visibility": run.min_visibility,
        **renderer.scene_facts(),
    }
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
