"""A generation run: check everything, then generate the videos with N worker processes.

`plan_run` does every check that can fail on the user's input (spec, output folder, shard,
cameras that see no road) before any work starts; `execute_run` then writes the manifest and
generates the pending videos, in-process for one worker or in a process pool for more. A
finished video is never redone (`--resume`); an unfinished one is redone from scratch. A shard
(`--shard i/n`) generates videos i, i+n, i+2n, ... of the same run, so that shards merged
(`uecity merge`) equal a single-machine run byte for byte.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from uecity import __version__
from uecity.child_processes import die_with_parent, die_with_parent_and_join_run
from uecity.core.atomic import is_temporary, remove_temporaries
from uecity.core.errors import SpecError, UsageError
from uecity.core.progress import ProgressFn
from uecity.core.record_io import load_json
from uecity.dataset import Dataset
from uecity.generate.worker import PARTIAL, VideoJob, VideoSummary, generate_video, video_camera
from uecity.motion.auto import VOCABULARY
from uecity.records import DatasetManifest, GeneratorInfo, Vocabulary
from uecity.render.backends import build_backend
from uecity.render.protocol import RenderBackend
from uecity.run_journal import JOURNAL_NAME, RunJournal, refuse_if_held
from uecity.scene.spec import COLOURS, SceneSpec, spec_to_plain
from uecity.traffic.network import build_network

if TYPE_CHECKING:  # the Unreal stack is imported only when a run uses it
    from uecity.unreal.backend import UnrealCvSettings

log = logging.getLogger(__name__)

MIN_ROAD_COVERAGE = 0.02  # a camera must see at least this share of road


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based): videos index, index+count, ..."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        if not text:
            return cls()
        try:
            i, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise UsageError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
        if n < 1 or not 0 <= i < n:
            raise UsageError(f"--shard {text}: need 0 <= i < n")
        return cls(i, n)

    def select(self, count: int) -> list[int]:
        return list(range(self.index, count, self.count))


@dataclass
class RunPlan:
    spec: SceneSpec
    out: Path
    shard: Shard
    resume: bool
    workers: int
    jobs: list[VideoJob]  # this shard's videos, all of them
    pending: list[VideoJob] = field(default_factory=list)
    # the command line that finishes this run if it is interrupted (kept in its journal)
    resume_command: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    videos: int = 0
    skipped: int = 0
    frames: int = 0
    objects: int = 0
    boxes: int = 0
    wall_s: float = 0.0
    per_video: list[VideoSummary] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def video_ids(spec: SceneSpec) -> list[str]:
    return [f"video_{i:04d}" for i in range(spec.run.videos)]


def build_manifest(spec: SceneSpec, videos: list[str]) -> DatasetManifest:
    """The manifest of a run (or of one shard of it: `videos` is its subset)."""
    everything = video_ids(spec)
    n_test = math.ceil(len(everything) * spec.run.test_fraction) if len(everything) > 1 else 0
    test = set(everything[len(everything) - n_test :])
    chosen = set(videos)
    types = [*sorted(set(spec.demand.mix)), "adult", "child"]
    return DatasetManifest(
        name=spec.name,
        videos=[v for v in everything if v in chosen],
        splits={
            "train": [v for v in everything if v in chosen and v not in test],
            "test": [v for v in everything if v in chosen and v in test],
        },
        vocabulary=Vocabulary(
            categories=["vehicle", "pedestrian"],
            types=types,
            colours=sorted(COLOURS),
            motion_labels=[label for labels in VOCABULARY.values() for label in labels],
        ),
        generator=GeneratorInfo(name="uecity", version=__version__),
        spec=spec_to_plain(spec),
        seed=spec.run.seed,
    )


def make_jobs(spec: SceneSpec, out: Path, shard: Shard, backend: RenderBackend) -> list[VideoJob]:
    sequences = np.random.SeedSequence(spec.run.seed).spawn(spec.run.videos)
    ids = video_ids(spec)
    return [
        VideoJob(spec, i, ids[i], sequences[i], out, backend) for i in shard.select(spec.run.videos)
    ]


def check_cameras(spec: SceneSpec, jobs: list[VideoJob]) -> None:
    """Refuse a camera that sees (almost) no road, before any video is generated."""
    from uecity.render.sim import road_coverage

    with tempfile.TemporaryDirectory(prefix="uecity-check-") as scratch:
        network = build_network(spec.intersection, Path(scratch))
        for job in jobs:
            camera = video_camera(spec, network, job.index, job.generators()["camera"])
            coverage = road_coverage(camera, network)
            if coverage < MIN_ROAD_COVERAGE:
                where = (
                    "cameras" if spec.auto_cameras else f"cameras[{job.index % len(spec.cameras)}]"
                )
                raise SpecError(
                    f"the camera of {job.video_id} sees no road ({coverage:.1%} of the image "
                    f"shows road; at least {MIN_ROAD_COVERAGE:.0%} is needed): aim it at the "
                    "junction (yaw, pitch) or move it closer",
                    field=where,
                )


def is_finished(out: Path, video_id: str) -> bool:
    return (out / "videos" / video_id / "video.json").is_file()


def _run_leftovers_only(out: Path) -> bool:
    """Whether `out` holds nothing but what an interrupted run of ours leaves before its
    manifest exists: its journal, temporaries, the staging folder."""
    return all(p.name in (JOURNAL_NAME, PARTIAL) or is_temporary(p) for p in out.iterdir())


def plan_run(
    spec: SceneSpec,
    out: Path,
    *,
    workers: int = 1,
    resume: bool = False,
    shard: Shard | None = None,
    unrealcv: UnrealCvSettings | None = None,
) -> RunPlan:
    """Check the request completely; nothing is written."""
    shard = shard or Shard()
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if shard.count > spec.run.videos:
        raise UsageError(f"--shard {shard.index}/{shard.count}: more shards than videos")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    manifest_path = Dataset.manifest_path(out)
    if out.is_dir():
        refuse_if_held(out)
    if out.is_dir() and not _run_leftovers_only(out):
        if not manifest_path.is_file():
            raise UsageError(
                f"{out} is not empty and is not a UE-City dataset; choose another --out"
            )
        if not resume:
            raise UsageError(
                f"{out} already holds a dataset; add --resume to continue it, "
                "or choose another --out"
            )
        existing = load_json(manifest_path)
        wanted = build_manifest(spec, []).model_dump(mode="json")
        for key in ("spec", "seed"):
            if not isinstance(existing, dict) or existing.get(key) != wanted[key]:
                raise UsageError(
                    f"cannot resume {out}: it was generated from another spec or seed "
                    f"(its '{key}' differs); use the same spec, seed and overrides"
                )
    backend = build_backend(spec.run.backend, unrealcv)
    backend.check_run(spec, workers)
    jobs = make_jobs(spec, out, shard, backend)
    check_cameras(spec, jobs)
    plan = RunPlan(spec, out, shard, resume, workers, jobs)
    plan.pending = [j for j in jobs if not (resume and is_finished(out, j.video_id))]
    return plan


def execute_run(plan: RunPlan, progress: ProgressFn | None = None) -> RunSummary:
    """Generate the plan's pending videos; returns what was made."""
    started = time.perf_counter()
    manifest = build_manifest(plan.spec, [j.video_id for j in plan.jobs])
    summary = RunSummary(skipped=len(plan.jobs) - len(plan.pending))
    # The journal comes first and goes last: a kill at any moment in between leaves a folder
    # that `--resume` recognises as ours and `validate` names as an interrupted run.
    with RunJournal(plan.out, "generate", plan.resume_command):
        # Leftovers of an interrupted run: unfinished videos and temporaries of atomic writes.
        shutil.rmtree(plan.out / PARTIAL, ignore_errors=True)
        for path in remove_temporaries(plan.out):
            log.info("removed leftover %s", path)
        Dataset(plan.out, manifest).write_manifest(manifest)  # plan_run checked the folder
        if plan.workers == 1 or len(plan.pending) <= 1:
            for job in plan.pending:
                summary.per_video.append(generate_video(job, progress))
        else:
            summary.per_video = _run_pool(plan, progress)
        shutil.rmtree(plan.out / PARTIAL, ignore_errors=True)
    summary.per_video.sort(key=lambda s: s.video_id)
    summary.videos = len(summary.per_video)
    summary.frames = sum(s.frames for s in summary.per_video)
    summary.objects = sum(s.objects for s in summary.per_video)
    summary.boxes = sum(s.boxes for s in summary.per_video)
    summary.wall_s = time.perf_counter() - started
    return summary


def _run_pool(plan: RunPlan, progress: ProgressFn | None) -> list[VideoSummary]:
    """Videos in a pool of fresh processes (spawned: libsumo is one simulation per process)."""
    context = multiprocessing.get_context("spawn")
    workers = min(plan.workers, len(plan.pending))
    results: list[VideoSummary] = []
    # Every helper process dies with this one: a `kill -9` leaves no orphan writing into --out.
    manager = SyncManager(ctx=context)
    manager.start(die_with_parent, (os.getpid(),))
    with manager:
        queue = manager.Queue() if progress is not None else None
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=die_with_parent_and_join_run,
            initargs=(os.getpid(), plan.out),
        ) as pool:
            futures = {pool.submit(_pool_task, job, queue) for job in plan.pending}
            try:
                while futures:
                    done, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(queue, progress)
                    for future in done:
                        results.append(future.result())
                _drain(queue, progress)
            except BaseException:
                # Ctrl-C or a failed video: stop now rather than finish the queued videos. The
                # unfinished ones stay in .partial/ and are redone by --resume.
                _terminate(pool)
                raise
    return results


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the worker processes without waiting for their videos."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def _drain(queue, progress: ProgressFn | None) -> None:
    if queue is None or progress is None:
        return
    while not queue.empty():
        progress(queue.get_nowait())


def _pool_task(job: VideoJob, queue) -> VideoSummary:
    report = queue.put if queue is not None else None
    return generate_video(job, report)
