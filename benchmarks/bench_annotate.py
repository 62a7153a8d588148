"""Benchmark of `uecity annotate` on what `uecity generate` makes: serving, scrubbing, stepping.

    .venv/bin/python benchmarks/bench_annotate.py [--frames 600] [--screenshot docs/annotator.png]
                                                  [--dataset PATH]

The video is generated first with the shipped spec and vocabulary (one 1280x720 video of
`--frames` frames, 600 by default; `--dataset` uses the first video of a dataset made with
`uecity generate` instead, read only), then:

1. Serving one frame with its boxes: GET the frame's JPEG and GET its boxes on one keep-alive
   connection, over random frames; p50/p95 in ms.
2. In headless Chromium (Debian's `chromium`, software rendering): page load (navigation to the
   first frame drawn with the timeline), then
   - scrubbing: the slider dragged across the whole video, 60 positions, one every 16 ms (a
     fast drag, ~1 s) and one every 50 ms (a slow one); the share of those positions whose
     picture was drawn (the issue measured 2-5 of 60 before);
   - stepping: 100 steps back to back (each awaited: fetch + decode + draw), 30 steps at an
     annotator's 10 steps/s, 60 ArrowRight key presses at key-repeat rate (30/s); step latency
     p50/p95 = from the request to that frame's picture and counter on screen;
   - the timeline: a redraw of the lanes in view (hover), and all lanes scrolled through.

With --screenshot, also saves a picture of the tool at 1366x768 on the generated video.
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
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typer.testing import CliRunner

from annotator.server import serve
from tests.annotator.conftest import CHROMIUM_ARGS, chromium_path
from uecity.cli import app
from uecity.dataset import Dataset

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIDEO = "video_0000"  # the first video `uecity generate` makes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def generate(root: Path, frames: int) -> tuple[Dataset, float]:
    started = time.perf_counter()
    result = CliRunner().invoke(
        app, ["generate", "--videos", "1", "--frames", str(frames), "--out", str(root)]
    )
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return Dataset.open(root), time.perf_counter() - started


def bench_frame_serving(dataset: Dataset, requests: int) -> dict[str, float]:
    server = serve(dataset)
    server.start_in_thread()
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port)
    num_frames = dataset.video(VIDEO).info.num_frames
    rng = random.Random(0)
    combined, images, boxes, sizes = [], [], [], []
    try:
        for index in range(requests + 20):
            frame = rng.randrange(num_frames)
            started = time.perf_counter()
            connection.request("GET", f"/api/videos/{VIDEO}/frames/{frame}")
            response = connection.getresponse()
            image = response.read()
            assert response.status == 200
            middle = time.perf_counter()
            connection.request("GET", f"/api/videos/{VIDEO}/frames/{frame}/boxes")
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


SCRUB = """async ([positions, gapMs, numFrames]) => {
  // drag the slider across the video; record which asked-for positions got drawn
  const drawn = new Set();
  const counter = document.querySelector('#frame-number');
  const observer = new MutationObserver(() => drawn.add(window.annotator.view.frame));
  observer.observe(counter, { childList: true, characterData: true, subtree: true });
  const scrubber = document.querySelector('#scrubber');
  const asked = [];
  for (let i = 0; i < positions; i++) {
    const frame = Math.round((i + 1) * (numFrames - 1) / positions);
    asked.push(frame);
    scrubber.value = String(frame);
    scrubber.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  observer.disconnect();
  return asked.filter((f) => drawn.has(f)).length;
}"""

STEPS = """async ([count, gapMs, from]) => {
  await window.annotator.show(from);
  const times = [];
  for (let i = 0; i < count; i++) {
    if (gapMs) await new Promise((resolve) => setTimeout(resolve, gapMs));
    const t0 = performance.now();
    await window.annotator.step(1);
    times.push(performance.now() - t0);
  }
  return times;
}"""

KEY_REPEAT = """async ([count, gapMs, from]) => {
  // ArrowRight at key-repeat rate: latency from each key press to its frame on screen
  await window.annotator.show(from);
  const pressedAt = new Map();
  const latency = [];
  const counter = document.querySelector('#frame-number');
  const observer = new MutationObserver(() => {
    const t = pressedAt.get(window.annotator.view.frame);
    if (t !== undefined) latency.push(performance.now() - t);
  });
  observer.observe(counter, { childList: true, characterData: true, subtree: true });
  for (let i = 0; i < count; i++) {
    pressedAt.set(from + i + 1, performance.now());
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  observer.disconnect();
  return { drawn: latency.length, latency };
}"""


def bench_page(dataset: Dataset, steps: int) -> dict[str, Any]:
    video = dataset.video(VIDEO)
    num_frames = video.info.num_frames
    fragment = f"#video={VIDEO}&frame=0"
    with annotator_page(dataset, (1366, 768), "bench", fragment) as page:
        load_ms = page.evaluate("window.annotator.ready")  # performance.now() at ready
        page.wait_for_timeout(300)
        fast = page.evaluate(SCRUB, [60, 16, num_frames])
        slow = page.evaluate(SCRUB, [60, 50, num_frames])
        back_to_back = page.evaluate(STEPS, [steps, 0, 100])
        paced = page.evaluate(STEPS, [30, 100, 300])
        repeat = page.evaluate(KEY_REPEAT, [60, 33, 400])
        timeline_ms = page.evaluate(
            """() => {
              const t = window.annotator.timeline;
              let t0 = performance.now();
              for (let i = 0; i < 50; i++) t.drawRows();
              const redraw = (performance.now() - t0) / 50;
              const scroller = t.scroller;
              t0 = performance.now();
              let n = 0;
              for (let y = 0; y < scroller.scrollHeight; y += scroller.clientHeight, n++) {
                scroller.scrollTop = y;
                t.drawRows();
              }
              return [redraw, (performance.now() - t0) / Math.max(1, n), t.rows.length];
            }"""
        )
    return {
        "frames": num_frames,
        "tracks": len(video.objects()),
        "boxes": len(video.boxes()),
        "intervals": len(video.motion().intervals),
        "timeline_rows": timeline_ms[2],
        "page_load_ms": load_ms,
        "scrub_fast_drawn_of_60": fast,
        "scrub_slow_drawn_of_60": slow,
        "step_back_to_back_p50_ms": percentile(back_to_back, 50),
        "step_back_to_back_p95_ms": percentile(back_to_back, 95),
        "step_at_10_per_s_p50_ms": percentile(paced, 50),
        "step_at_10_per_s_p95_ms": percentile(paced, 95),
        "key_repeat_30_per_s_drawn_of_60": repeat["drawn"],
        "key_repeat_latency_p50_ms": percentile(repeat["latency"], 50)
        if repeat["latency"]
        else None,
        "key_repeat_latency_p95_ms": percentile(repeat["latency"], 95)
        if repeat["latency"]
        else None,
        "timeline_redraw_ms": timeline_ms[0],
        "timeline_scroll_redraw_ms": timeline_ms[1],
    }


def screenshot(dataset: Dataset, out: Path) -> None:
    """The tool at 1366x768: a selected automatic interval, a started one, a hovered car."""
    video = dataset.video(VIDEO)
    motion = video.motion()
    frame = min(80, video.info.num_frames - 1)
    with annotator_page(dataset, (1366, 768), "ada", f"#video={VIDEO}&frame={frame}") as page:
        page.evaluate("window.annotator.ready")
        turning = [i for i in motion.intervals if i.label.startswith("turning")]
        target = (turning or motion.intervals)[0]
        page.evaluate("(i) => window.annotator.select(i)", target.model_dump(mode="json"))
        page.evaluate(f"window.annotator.show({max(target.start, min(target.end, frame))})")
        page.keyboard.press("a")  # accept it: "1 of N reviewed"
        page.wait_for_timeout(500)
        page.keyboard.press("n")  # and on to the next unreviewed one
        page.wait_for_timeout(500)
        page.screenshot(path=str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--dataset", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    try:
        if args.dataset is not None:  # a copy: the screenshot saves an edit
            shutil.copytree(args.dataset, work / "data")
            dataset, generate_s = Dataset.open(work / "data"), None
        else:
            dataset, generate_s = generate(work / "data", args.frames)
        results: dict[str, Any] = {"generate_s": generate_s}
        results["frame_serving"] = bench_frame_serving(dataset, args.requests)
        print(json.dumps(results, indent=2), flush=True)
        if chromium_path() is None:
            print("no chromium: page benchmark skipped", file=sys.stderr)
        else:
            results["page"] = bench_page(dataset, args.steps)
            if args.screenshot:
                screenshot(Dataset.open(work / "data"), args.screenshot)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
