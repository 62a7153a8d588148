"""Benchmark of `uecity generate` (issue 3's performance targets).

1. Per-worker throughput at 1280x720: frames/s of the per-frame loop (SUMO step, render,
   mask→boxes, JPEG encode and write), and its ratio to JPEG-encoding the frame alone (the floor),
   measured in the same run. Target: >= 50 frames/s per worker.
2. A Refer-UE-City-scale run: 14 videos x 450 frames with 2 workers (specs/refer-ue-city.yaml):
   wall time and mean annotated objects per frame. Targets: <= 3 minutes, >= 20 objects/frame.

    .venv/bin/python benchmarks/bench_generate.py [--frames 300] [--skip-scale] [--json out.json]

Wall times on a shared machine include other processes' load; CPU seconds of the worker are
reported beside them.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from uecity.generate.run import Shard, execute_run, make_jobs, plan_run
from uecity.generate.worker import generate_video
from uecity.render.backends import build_backend
from uecity.scene.spec import SceneSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]


def per_worker(frames: int) -> dict:
    spec = SceneSpec().with_overrides(videos=1, frames=frames)
    with tempfile.TemporaryDirectory(prefix="uecity-bench-") as tmp:
        out = Path(tmp)
        job = make_jobs(spec, out, Shard(), build_backend(spec.run.backend))[0]
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        summary = generate_video(job)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        t = summary.timings
        loop = t["sumo"] + t["render"] + t["boxes"] + t["encode"] + t["write"]
        # The floor again, on the written frames, outside the loop: decode once, encode timed.
        frame_dir = out / "videos" / job.video_id / "frames"
        images = [cv2.imread(str(p)) for p in sorted(frame_dir.glob("*.jpg"))[:50]]
        q = spec.run.jpeg_quality
        start = time.perf_counter()
        for image in images:
            cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
        encode_alone = (time.perf_counter() - start) / len(images)
    per_frame_loop = loop / frames
    return {
        "resolution": f"{spec.capture.width}x{spec.capture.height}",
        "frames": frames,
        "annotated_objects_per_frame": round(summary.boxes / frames, 1),
        "loop_frames_per_s": round(frames / loop, 1),
        "loop_ms_per_frame": round(1000 * per_frame_loop, 2),
        "stage_ms_per_frame": {
            k: round(1000 * v / frames, 2) for k, v in t.items() if k not in ("setup", "post")
        },
        "setup_s": round(t["setup"], 2),
        "post_s": round(t["post"], 2),
        "jpeg_encode_ms_in_run": round(1000 * t["encode"] / frames, 2),
        "ratio_to_jpeg_encode": round(loop / t["encode"], 2),
        "jpeg_encode_ms_alone": round(1000 * encode_alone, 2),
        "video_wall_s": round(wall, 2),
        "video_cpu_s": round(cpu, 2),
        "video_frames_per_s_incl_setup": round(frames / wall, 1),
    }


def scale_run(workers: int) -> dict:
    spec = load_spec(ROOT / "specs" / "refer-ue-city.yaml")
    with tempfile.TemporaryDirectory(prefix="uecity-bench-scale-") as tmp:
        out = Path(tmp) / "data"
        start = time.perf_counter()
        plan = plan_run(spec, out, workers=workers)
        summary = execute_run(plan)
        wall = time.perf_counter() - start
        shutil.rmtree(out, ignore_errors=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "videos": summary.videos,
        "frames": summary.frames,
        "workers": workers,
        "wall_s": round(wall, 1),
        "frames_per_s": round(summary.frames / wall, 1),
        "worker_cpu_s": round(children.ru_utime + children.ru_stime, 1),
        "annotated_objects_per_frame": round(summary.boxes / summary.frames, 1),
        "objects": summary.objects,
        "boxes": summary.boxes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    np.set_printoptions(precision=2)
    results = {"per_worker": per_worker(args.frames)}
    print(json.dumps(results, indent=2), flush=True)
    if not args.skip_scale:
        results["refer_ue_city_scale"] = scale_run(args.workers)
        print(json.dumps(results["refer_ue_city_scale"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
