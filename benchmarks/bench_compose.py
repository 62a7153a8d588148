"""Benchmark of `uecity compose` and the Refer-KITTI export at Refer-UE-City scale.

Builds a scripted dataset through the dataset API (14 videos, ~6,200 frames, ~25 objects per
frame with realistic motion intervals; see tests/traffic_factory.py), times composition with
the default vocabulary and configuration (target ≤ 10 s), times the Refer-KITTI export (first
run and an up-to-date re-run), and prints the statistics row beside the paper's Table 1.

    .venv/bin/python benchmarks/bench_compose.py [--width 1920 --height 1080] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.traffic_factory import TrafficSpec, build_traffic_dataset
from uecity.export import export_dataset
from uecity.language.compose import compose_dataset
from uecity.language.composition import CompositionConfig
from uecity.language.vocabulary import load_vocabulary
from uecity.stats.table1 import dataset_stats, markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=14)
    parser.add_argument("--frames", type=int, default=443, help="Frames per video.")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=90)
    parser.add_argument(
        "--concurrent",
        type=float,
        default=36.0,
        help="Objects alive at once (some are off screen: ~22 boxes per frame).",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "dataset"
        started = time.perf_counter()
        dataset = build_traffic_dataset(
            root,
            TrafficSpec(
                videos=args.videos,
                num_frames=args.frames,
                width=args.width,
                height=args.height,
                concurrent=args.concurrent,
                seed=args.seed,
            ),
        )
        boxes = sum(len(dataset.video(v).boxes()) for v in dataset.videos)
        frames = args.videos * args.frames
        print(
            f"dataset: {args.videos} videos, {frames} frames, {boxes} boxes "
            f"({boxes / frames:.1f} per frame), {args.width}x{args.height}, built in "
            f"{time.perf_counter() - started:.1f} s"
        )

        started = time.perf_counter()
        report = compose_dataset(
            dataset, load_vocabulary(), CompositionConfig(), seed=args.seed, workers=args.workers
        )
        compose_s = time.perf_counter() - started
        print(f"compose: {report.total} expressions in {compose_s:.2f} s (target ≤ 10 s)")

        if not args.skip_export:
            out = Path(folder) / "refer-kitti"
            first = export_dataset(dataset, out, "refer-kitti", workers=args.workers)
            again = export_dataset(dataset, out, "refer-kitti", workers=args.workers)
            print(
                f"refer-kitti export ({args.workers} workers): {first.seconds:.1f} s "
                f"({first.written} files); re-run {again.seconds:.1f} s "
                f"({again.skipped} up to date, {again.written} written)"
            )

        print()
        print(markdown(dataset_stats(dataset), "synthetic benchmark"))


if __name__ == "__main__":
    main()
