"""Benchmark of `uecity annotate`: frame serving latency and page responsiveness.

    .venv/bin/python benchmarks/bench_annotate.py [--screenshot docs/annotator.png]

1. Serving one 1280x720 frame with its boxes: GET the frame's JPEG and GET its boxes on one
   keep-alive connection, repeated over random frames; p50/p95 in ms (target: p95 <= 30 ms).
2. A 1,000-frame x 100-track 1280x720 video in headless Chromium (Debian's `chromium`): page
   load (navigation to first frame drawn, timeline included) and per-step time: 100 steps
   back to back (throughput: fetch + decode + draw), 40 steps back over cached frames (draw
   only), and 30 steps at a human 10 steps/s (the next frames preloaded meanwhile).

With --screenshot, also saves a picture of the tool on a realistic video.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.server import serve
from tests.annotator.conftest import CHROMIUM_ARGS, chromium_path
from tests.annotator.synthetic import build_intersection_dataset
from uecity.dataset import Dataset

if TYPE_CHECKING:
    from playwright.sync_api import Page


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_frame_serving(root: Path, requests: int) -> dict[str, float]:
    dataset = build_intersection_dataset(root, num_frames=60, num_tracks=30, seed=1)
    server = serve(dataset)
    server.start_in_thread()
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port)
    rng = random.Random(0)
    combined, images, boxes, sizes = [], [], [], []
    try:
        for index in range(requests + 20):
            frame = rng.randrange(60)
            started = time.perf_counter()
            connection.request("GET", f"/api/videos/cross-0001/frames/{frame}")
            response = connection.getresponse()
            image = response.read()
            assert response.status == 200
            middle = time.perf_counter()
            connection.request("GET", f"/api/videos/cross-0001/frames/{frame}/boxes")
            response = connection.getresponse()
            json.loads(response.read())
            assert response.status == 200
            ended = time.perf_counter()
            if index >= 20:  # warm-up excluded
                combined.append((ended - started) * 1000)
                images.append((middle - started) * 1000)
                boxes.append((ended - middle) * 1000)
                sizes.append(len(image))
    finally:
        connection.close()
        server.shutdown()
        server.server_close()
    return {
        "requests": requests,
        "frame_plus_boxes_p50_ms": percentile(combined, 50),
        "frame_plus_boxes_p95_ms": percentile(combined, 95),
        "frame_only_p95_ms": percentile(images, 95),
        "boxes_only_p95_ms": percentile(boxes, 95),
        "mean_jpeg_kib": statistics.mean(sizes) / 1024,
    }


@contextlib.contextmanager
def annotator_page(
    dataset: Dataset, viewport: tuple[int, int], author: str, fragment: str
) -> Iterator[Page]:
    """The annotator served for `dataset`, open in headless Chromium at `fragment`."""
    from playwright.sync_api import sync_playwright

    server = serve(dataset)
    server.start_in_thread()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            width, height = viewport
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_init_script(f"localStorage.setItem('uecity.annotator.author', '{author}')")
            page = context.new_page()
            page.goto(server.url + fragment)
            yield page
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def bench_page(root: Path, steps: int) -> dict[str, float]:

    started = time.perf_counter()
    dataset = build_intersection_dataset(root, num_frames=1000, num_tracks=100, seed=2)
    built_s = time.perf_counter() - started
    video = dataset.video("cross-0001")
    num_boxes = video.boxes_table().num_rows
    with annotator_page(dataset, (1600, 1000), "bench", "#video=cross-0001&frame=0") as page:
        load_ms = page.evaluate("window.annotator.ready")  # performance.now() at ready
        step_ms = page.evaluate(
            """async (steps) => {
              const times = [];
              for (let i = 0; i < steps; i++) {
                const t0 = performance.now();
                await window.annotator.step(1);
                times.push(performance.now() - t0);
              }
              return times;
            }""",
            steps,
        )
        back_ms = page.evaluate(
            """async () => {
              const times = [];
              for (let i = 0; i < 40; i++) {
                const t0 = performance.now();
                await window.annotator.step(-1);
                times.push(performance.now() - t0);
              }
              return times;
            }"""
        )
        paced_ms = page.evaluate(
            """async () => {
              const times = [];
              await window.annotator.show(500);
              for (let i = 0; i < 30; i++) {
                await new Promise((resolve) => setTimeout(resolve, 100));
                const t0 = performance.now();
                await window.annotator.step(1);
                times.push(performance.now() - t0);
              }
              return times;
            }"""
        )
        hover_ms = page.evaluate(
            """() => {
              const rows = document.querySelector('#rows');
              const rect = rows.getBoundingClientRect();
              const t0 = performance.now();
              for (let i = 0; i < 50; i++) {
                rows.dispatchEvent(new MouseEvent('mousemove', { bubbles: true,
                  clientX: rect.left + 300, clientY: rect.top + 8 + 16 * (i % 100) }));
              }
              return (performance.now() - t0) / 50;
            }"""
        )
    return {
        "frames": 1000,
        "tracks": 100,
        "boxes": num_boxes,
        "dataset_build_s": built_s,
        "page_load_ms": load_ms,
        "step_mean_ms": statistics.mean(step_ms),
        "step_p50_ms": percentile(step_ms, 50),
        "step_p95_ms": percentile(step_ms, 95),
        "hundred_steps_ms": sum(step_ms),
        "step_cached_p95_ms": percentile(back_ms, 95),
        "step_at_10_per_s_p50_ms": percentile(paced_ms, 50),
        "step_at_10_per_s_p95_ms": percentile(paced_ms, 95),
        "hover_redraw_ms": hover_ms,
    }


def screenshot(root: Path, out: Path) -> None:
    """The tool on a realistic video: a started interval, a selected one, a hovered car."""
    dataset = build_intersection_dataset(root, num_frames=150, num_tracks=18, seed=5)
    with annotator_page(dataset, (1500, 930), "ada", "#video=cross-0001&frame=72") as page:
        page.evaluate("window.annotator.ready")
        page.evaluate("window.annotator.state.selected = 3")
        page.keyboard.press("3")
        page.evaluate("window.annotator.show(62)")
        # start an interval on the car nearest the middle, and hover it
        video = dataset.video("cross-0001")
        boxes = list(video.frames())[62].boxes
        centres = boxes.xyxy.reshape(-1, 2, 2).mean(axis=1)
        row = int(((centres - [640, 360]) ** 2).sum(axis=1).argmin())
        rect = page.locator("#frame").bounding_box()
        scale = rect["width"] / 1280
        x, y = centres[row] * scale + [rect["x"], rect["y"]]
        page.mouse.click(x, y)
        page.mouse.move(x, y + 1)
        page.wait_for_timeout(300)
        page.screenshot(path=str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    try:
        results = {"frame_serving": bench_frame_serving(work / "serve", args.requests)}
        print(json.dumps(results, indent=2), flush=True)
        if chromium_path() is None:
            print("no chromium: page benchmark skipped", file=sys.stderr)
        else:
            results["page"] = bench_page(work / "page", args.steps)
            if args.screenshot:
                screenshot(work / "shot", args.screenshot)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
