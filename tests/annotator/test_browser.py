"""End to end in a real headless Chromium on what `uecity generate` makes (the shipped spec and
16-label vocabulary), checked on disk: what an annotator reviewing automatic intervals does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from annotator.server import AnnotatorServer, serve
from tests.annotator.conftest import GENERATED_VIDEO as VIDEO
from uecity.dataset import Dataset, Video
from uecity.records import MotionInterval


def clickable(video: Video, frames: list[int], track: int) -> bool:
    """Whether `track`'s box centre lies in no other box on every one of `frames`."""
    all_frames = list(video.frames())
    for frame in frames:
        boxes = all_frames[frame].boxes
        rows = np.flatnonzero(boxes.track_id == track)
        if not len(rows):
            return False
        x1, y1, x2, y2 = boxes.xyxy[rows[0]]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        inside = (boxes.xyxy[:, 0] <= cx) & (cx < boxes.xyxy[:, 2])
        inside &= (boxes.xyxy[:, 1] <= cy) & (cy < boxes.xyxy[:, 3])
        if inside.sum() != 1 or (x2 - x1) < 12 or (y2 - y1) < 12:
            return False
    return True


def click_box(page: Any, video: Video, frame: int, track: int, **options: Any) -> None:
    """Click the centre of `track`'s box on `frame`, in page coordinates."""
    boxes = list(video.frames())[frame].boxes
    row = int(np.flatnonzero(boxes.track_id == track)[0])
    x1, y1, x2, y2 = boxes.xyxy[row]
    rect = page.locator("#frame").bounding_box()
    scale = rect["width"] / video.info.width
    page.mouse.click(
        rect["x"] + (x1 + x2) / 2 * scale, rect["y"] + (y1 + y2) / 2 * scale, **options
    )


def wait_saved(page: Any, revision: int) -> None:
    page.wait_for_function(
        f"document.querySelector('#save-status').textContent === 'Saved rev {revision}'"
    )


def show(page: Any, frame: int) -> None:
    page.evaluate(f"window.annotator.show({frame})")
    page.wait_for_function(f"window.annotator.state.shown === {frame}")


def select(page: Any, interval: MotionInterval) -> None:
    page.evaluate("(i) => window.annotator.select(i)", interval.model_dump(mode="json"))


def selected(page: Any) -> dict[str, Any] | None:
    return page.evaluate("window.annotator.state.selected")


def same(a: dict[str, Any] | None, b: MotionInterval) -> bool:
    return a is not None and MotionInterval.model_validate(a) == b


def test_every_automatic_interval_is_drawn_and_selectable_at_its_extent(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    """Click the start, middle and end of every interval's lane on the timeline canvas."""
    video = generated.video(VIDEO)
    motion = video.motion()
    assert len(motion.intervals) > 200 and len(generated.manifest.vocabulary.motion_labels) == 16
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=0")
    outcome = page.evaluate(
        """async (intervals) => {
          const { timeline } = window.annotator;
          const canvas = document.querySelector('#rows');
          const context = canvas.getContext('2d');
          const failures = [];
          for (const interval of intervals) {
            timeline.reveal(interval);
            timeline.drawRows();
            const row = timeline.rows.findIndex((r) => r.track.track_id === interval.track_id
              && r.label === interval.label);
            if (row < 0) { failures.push(['no lane', interval]); continue; }
            const rect = canvas.getBoundingClientRect();
            const y = row * 14 + 7 - timeline.scroller.scrollTop;
            for (const frame of [interval.start, Math.floor((interval.start + interval.end) / 2),
                                 interval.end]) {
              const x = timeline.xOf(frame + 0.5);
              const [r, g, b] = context.getImageData(Math.floor(x), Math.floor(y) - 3, 1, 1).data;
              if (r + g + b < 120) failures.push(['not drawn', frame, interval]);
              const down = { bubbles: true, clientX: rect.left + x, clientY: rect.top + y };
              canvas.dispatchEvent(new MouseEvent('mousedown', down));
              window.dispatchEvent(new MouseEvent('mouseup', down));
              const got = window.annotator.state.selected;
              if (!got || got.track_id !== interval.track_id || got.label !== interval.label
                  || got.start !== interval.start || got.end !== interval.end) {
                failures.push(['not selected', frame, interval, got]);
              }
            }
          }
          return failures;
        }""",
        [i.model_dump(mode="json") for i in motion.intervals],
    )
    assert outcome == [], outcome[:5]
    assert video.motion().revision == motion.revision  # selecting changes nothing on disk
    assert page.errors == []


def test_fast_double_delete_and_queued_edits_hit_only_the_selected_interval(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    before = video.motion()
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=0")
    target = before.intervals[5]
    select(page, target)
    # two Delete presses in one go: the second arrives before the first is answered
    page.evaluate(
        """() => { for (let i = 0; i < 2; i++) window.dispatchEvent(
             new KeyboardEvent('keydown', { key: 'Delete', bubbles: true })); }"""
    )
    wait_saved(page, before.revision + 1)
    page.wait_for_timeout(300)
    after = video.motion()
    assert after.revision == before.revision + 1
    assert after.intervals == [i for i in before.intervals if i != target]
    # accept, then move the end, pressed at once: both land on that one interval
    other = next(i for i in after.intervals if i.end - i.start > 10)
    select(page, other)
    show(page, other.end - 3)
    page.evaluate(
        """() => { for (const key of ['a', ']']) window.dispatchEvent(
             new KeyboardEvent('keydown', { key, bubbles: true })); }"""
    )
    wait_saved(page, before.revision + 3)
    final = video.motion()
    changed = [i for i in final.intervals if i not in after.intervals]
    assert [(c.track_id, c.label, c.start, c.end, c.source) for c in changed] == [
        (other.track_id, other.label, other.start, other.end - 3, "manual")
    ]
    assert len(final.intervals) == len(after.intervals)
    assert page.errors == []


def test_keys_never_act_on_a_menu_the_user_left(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    motion = video.motion()
    target = next(i for i in motion.intervals if i.label == "parked" or i.end - i.start > 20)
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame={target.start}")
    select(page, target)
    free = next(
        label
        for label in generated.manifest.vocabulary.motion_labels
        if not any(i.track_id == target.track_id and i.label == label for i in motion.intervals)
    )
    page.locator("#relabel").select_option(free)
    wait_saved(page, motion.revision + 1)
    assert page.evaluate("document.activeElement === document.querySelector('#relabel')") is False
    frame = page.evaluate("window.annotator.state.frame")
    for key in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowRight"):
        page.keyboard.press(key)
    page.wait_for_timeout(400)
    assert page.evaluate("window.annotator.state.frame") == frame + 1  # → stepped a frame
    saved = video.motion()
    assert saved.revision == motion.revision + 1  # the arrows relabelled nothing
    relabelled = [i for i in saved.intervals if i not in motion.intervals]
    assert [(i.track_id, i.label) for i in relabelled] == [(target.track_id, free)]
    # the same after a button: Space plays instead of pressing it again
    page.locator("#next-unreviewed").click()
    assert page.evaluate("document.activeElement.tagName") == "BODY"
    assert page.errors == []


def test_a_failed_save_says_so_is_retried_and_lands(generated: Dataset, page_for: Any) -> None:
    server = serve(generated)
    server.start_in_thread()
    port = server.server_address[1]
    video = generated.video(VIDEO)
    motion = video.motion()
    page = page_for(server, hash_=f"#video={VIDEO}&frame=0")
    server.shutdown()
    server.close()  # the server is gone, its open connections too
    target = motion.intervals[0]
    select(page, target)
    page.keyboard.press("a")
    page.wait_for_function(
        "document.querySelector('#save-status').dataset.kind === 'failed'", timeout=10000
    )
    assert "Not saved" in page.locator("#save-status").text_content()
    assert video.motion() == motion
    again = serve(generated, port=port)  # back on the same port
    again.start_in_thread()
    try:
        wait_saved(page, motion.revision + 1)
        accepted = video.motion().intervals[0]
        assert (accepted.author, accepted.source) == ("ada", "auto")
        assert accepted.timestamp is not None
    finally:
        again.shutdown()
        again.server_close()
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


def _annotate_process(root: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "uecity", "annotate", root, "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line
    return process, match.group(0)


def test_two_processes_adding_labels_keep_both_and_show_them(
    generated: Dataset, page_for: Any
) -> None:
    processes = [_annotate_process(str(generated.root)) for _ in range(2)]
    try:
        pages = [page_for(url, hash_=f"#video={VIDEO}&frame=0") for _, url in processes]
        for page, label in zip(pages, ("reversing", "making a U-turn"), strict=True):
            page.locator("#new-label").fill(label)
            page.locator("#new-label").press("Enter")
            page.wait_for_selector(f".label.active >> text={label}")
        labels = Dataset.open(generated.root).manifest.vocabulary.motion_labels
        assert labels[-2:] == ["reversing", "making a U-turn"] and len(labels) == 18
        # the first page learns the second's label without a reload, with a key for it
        pages[0].wait_for_selector(".label >> text=making a U-turn", timeout=5000)
        key = pages[0].locator(".label", has_text="making a U-turn").locator("kbd")
        assert key.text_content() == "⇧8"
    finally:
        for process, _ in processes:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)


def test_marking_inside_an_automatic_interval_replaces_it(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    motion = video.motion()
    labels = generated.manifest.vocabulary.motion_labels
    auto = next(
        i
        for i in sorted(motion.intervals, key=lambda i: i.start - i.end)
        if i.end - i.start >= 12 and clickable(video, [i.start + 4, i.end - 4], i.track_id)
    )
    first, last = auto.start + 4, auto.end - 4
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame={first}")
    index = labels.index(auto.label)
    page.evaluate(
        """(index) => window.dispatchEvent(new KeyboardEvent('keydown', { bubbles: true,
             key: 'x', code: 'Digit' + ((index % 10 + 1) % 10), shiftKey: index >= 10 }))""",
        index,
    )
    assert page.evaluate("window.annotator.state.label") == auto.label
    click_box(page, video, first, auto.track_id)
    click_box(page, video, first, auto.track_id)  # a double click: no one-frame interval
    assert "Same frame" in page.locator("#message").text_content()
    show(page, last)
    click_box(page, video, last, auto.track_id)
    wait_saved(page, motion.revision + 1)
    saved = video.motion()
    mine = [i for i in saved.intervals if (i.track_id, i.label) == (auto.track_id, auto.label)]
    assert [(i.start, i.end, i.source, i.author) for i in mine] == [(first, last, "manual", "ada")]
    assert saved.history == [auto]
    assert page.errors == []


def test_another_annotators_edits_appear_and_merge(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    motion = video.motion()
    hash_ = f"#video={VIDEO}&frame=0"
    tab_a, tab_b = (
        page_for(generated_server, author="ada", hash_=hash_),
        page_for(generated_server, author="bo", hash_=hash_),
    )
    select(tab_a, motion.intervals[0])
    tab_a.keyboard.press("a")
    wait_saved(tab_a, motion.revision + 1)
    wait_saved(tab_b, motion.revision + 1)  # without a reload
    assert tab_b.evaluate("window.annotator.state.motion.intervals[0].author") == "ada"
    # both edit different intervals at once: both land, nobody is asked to reload
    select(tab_a, motion.intervals[1])
    select(tab_b, motion.intervals[2])
    tab_a.keyboard.press("Delete")
    tab_b.keyboard.press("Delete")
    for tab in (tab_a, tab_b):
        wait_saved(tab, motion.revision + 3)
    saved = video.motion()
    assert motion.intervals[1] not in saved.intervals and motion.intervals[2] not in saved.intervals
    assert len(saved.intervals) == len(motion.intervals) - 2
    assert not tab_b.locator("#conflict").is_visible()
    assert tab_a.errors == [] and tab_b.errors == []


def test_review_workflow_from_the_keyboard(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    motion = video.motion()
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=0")
    total = len(motion.intervals)
    assert f"0/{total} reviewed" in page.locator("#progress").text_content()
    page.keyboard.press("n")
    first = selected(page)
    assert first is not None and page.evaluate("window.annotator.state.frame") == first["start"]
    page.keyboard.press("a")
    wait_saved(page, motion.revision + 1)
    page.keyboard.press("n")
    second = selected(page)
    assert second is not None and (second["start"], second["track_id"]) >= (
        first["start"],
        first["track_id"],
    )
    page.keyboard.press("Shift+A")  # every unreviewed interval of that track
    wait_saved(page, motion.revision + 2)
    saved = video.motion()
    track = second["track_id"]
    assert all(i.timestamp is not None for i in saved.intervals if i.track_id == track)
    reviewed = sum(1 for i in saved.intervals if i.timestamp is not None)
    assert f"{reviewed}/{total} reviewed" in page.locator("#progress").text_content()
    # filters: only pedestrians' lanes, only unreviewed ones
    page.locator("#filter-category").select_option("pedestrian")
    page.locator("#filter-state").select_option("unreviewed")
    tracks = {t.track_id: t.category for t in video.objects()}
    rows = page.evaluate(
        "window.annotator.timeline.rows.map(r => [r.track.track_id, r.intervals.length])"
    )
    assert rows and all(tracks[t] == "pedestrian" for t, _ in rows)
    # hide a track: its boxes are no longer drawn or clickable; texts off; zoom; speed
    page.keyboard.press("h")
    assert page.evaluate("window.annotator.state.view.hidden.size") == 1
    page.keyboard.press("Shift+H")
    assert page.evaluate("window.annotator.state.view.hidden.size") == 0
    page.keyboard.press("t")
    assert page.evaluate("window.annotator.state.showTexts") is False
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.evaluate("window.annotator.view.zoom") > 1.5
    page.keyboard.press("z")
    assert page.evaluate("window.annotator.view.zoom") == 1
    page.keyboard.press(">")
    assert page.evaluate("window.annotator.state.speed") == 2
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    assert page.errors == []


def test_layout_fits_1366_by_768_and_every_label_has_a_key_and_colour(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=10")
    select(page, generated.video(VIDEO).motion().intervals[0])
    size = page.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")
    assert size[0] <= size[1]
    aside = page.evaluate(
        "(() => { const a = document.querySelector('aside');"
        " return [a.scrollHeight, a.clientHeight]; })()"
    )
    assert aside[0] <= aside[1], aside  # the whole panel, every label button included
    for control in ("#delete", "#relabel", "#accept", "#next-unreviewed", "#help-button"):
        box = page.locator(control).bounding_box()
        assert box and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1366
    labels = page.evaluate(
        """[...document.querySelectorAll('.label')].map(b => [b.dataset.label,
             b.querySelector('kbd').textContent, getComputedStyle(b).borderLeftColor])"""
    )
    assert len(labels) == 16
    assert len({key for _, key, _ in labels}) == 16 and all(key for _, key, _ in labels)
    assert len({colour for _, _, colour in labels}) == 16


def test_counter_and_picture_are_the_same_frame_while_scrubbing(
    generated_server: AnnotatorServer, page_for: Any
) -> None:
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=0")
    mismatches = page.evaluate(
        """async () => {
          const seen = [];
          const counter = document.querySelector('#frame-number');
          const observer = new MutationObserver(() => seen.push(
            [counter.textContent.split(' / ')[0], window.annotator.view.frame]));
          observer.observe(counter, { childList: true, characterData: true, subtree: true });
          const scrubber = document.querySelector('#scrubber');
          for (let f = 1; f < 110; f += 3) {
            scrubber.value = String(f);
            scrubber.dispatchEvent(new Event('input', { bubbles: true }));
            await new Promise((r) => setTimeout(r, 5));
          }
          await window.annotator.show(109);
          observer.disconnect();
          return { seen: seen.length,
                   bad: seen.filter(([text, frame]) => Number(text) !== frame) };
        }"""
    )
    assert mismatches["bad"] == [] and mismatches["seen"] > 1
    assert page.locator("#frame-number").text_content() == "109 / 119"


def test_a_broken_motion_file_in_the_first_video_does_not_stop_the_page(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    generated.video(VIDEO).motion_path.write_text("{ not json")
    page = page_for(generated_server)
    assert page.locator("#save-status").text_content() == "Not editable"
    text = page.locator("#conflict-text").text_content()
    assert "malformed JSON" in text and str(generated.root) not in text
    second = generated.videos[1]
    page.locator("#video-select").select_option(second)
    wait_saved(page, json.loads(generated.video(second).motion_path.read_text())["revision"])


@pytest.mark.parametrize("viewport", [(1366, 768)])
def test_smallest_box_wins_the_click(
    small_server: AnnotatorServer, page_for: Any, viewport: tuple[int, int]
) -> None:
    page = page_for(small_server, viewport=viewport)
    hits = page.evaluate(
        """async () => {
          const { FrameView } = await import('/static/frameview.js');
          const view = new FrameView(document.createElement('canvas'));
          view.setVideo({ width: 100, height: 100, boxes: { frame_offsets: [0, 3],
            track_id: [1, 2, 3], xyxy: [0, 0, 100, 100, 10, 10, 30, 30, 12, 12, 20, 20] } });
          const before = [view.hitTest(0, 15, 15), view.hitTest(0, 25, 25),
                          view.hitTest(0, 50, 50), view.hitTest(0, 30, 15),
                          view.hitTest(0, 100, 5)];
          const all = view.hitAll(0, 15, 15);
          view.isVisible = (track) => track !== 3;  // a hidden track is not clickable
          return [...before, view.hitTest(0, 15, 15), all];
        }"""
    )
    assert hits == [3, 2, 1, 1, None, 2, [3, 2, 1]]  # right edges are exclusive


def test_annotator_name_is_asked_once(small_server: AnnotatorServer, page_for: Any) -> None:
    page = page_for(small_server, author=None)
    assert page.locator("#author-dialog").is_visible()
    page.locator("#author-input").fill("grace")
    page.locator("#author-input").press("Enter")
    assert not page.locator("#author-dialog").is_visible()
    assert page.evaluate("localStorage.getItem('uecity.annotator.author')") == "grace"
    assert page.locator("#author").text_content() == "grace"
    page.reload()
    page.evaluate("window.annotator.ready")
    assert not page.locator("#author-dialog").is_visible()


def test_stepping_playback_and_undo_redo_from_the_keyboard(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    video = generated.video(VIDEO)
    motion = video.motion()
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame=0")
    keyboard = page.keyboard
    frame = "window.annotator.state.frame"
    for key, expected in (
        ("ArrowRight", 1),
        ("Shift+ArrowRight", 11),
        ("PageDown", 21),
        ("ArrowLeft", 20),
        ("End", 119),
        ("Home", 0),
    ):
        keyboard.press(key)
        assert page.evaluate(frame) == expected, key
    keyboard.press("Space")  # play ...
    page.wait_for_function(f"{frame} >= 3")
    keyboard.press("Space")  # ... and pause
    paused_at = page.evaluate(frame)
    page.wait_for_timeout(300)
    assert page.evaluate(frame) == paused_at
    track = next(t.track_id for t in video.objects() if clickable(video, [30, 36], t.track_id))
    show(page, 30)
    keyboard.press("2")  # "stopped"
    click_box(page, video, 30, track)
    show(page, 36)
    click_box(page, video, 36, track)
    wait_saved(page, motion.revision + 1)
    marked = [i for i in video.motion().intervals if i.source == "manual"]
    assert [(i.track_id, i.label, i.start, i.end) for i in marked] == [(track, "stopped", 30, 36)]
    keyboard.press("Control+z")
    wait_saved(page, motion.revision + 2)
    assert video.motion().intervals == motion.intervals
    keyboard.press("Control+Shift+Z")
    wait_saved(page, motion.revision + 3)
    assert [i for i in video.motion().intervals if i.source == "manual"] == marked
    assert page.errors == []


def test_clicking_again_on_the_same_spot_reaches_the_box_behind(
    generated_server: AnnotatorServer, generated: Dataset, page_for: Any
) -> None:
    """Where boxes overlap, the smallest wins the first click; a second click at the same
    spot on the same frame moves the start to the next box under the pointer."""
    video = generated.video(VIDEO)
    found = None
    for frame in video.frames():
        xyxy, ids = frame.boxes.xyxy, frame.boxes.track_id
        for i in range(len(ids)):
            for j in range(len(ids)):
                x1, y1 = max(xyxy[i, 0], xyxy[j, 0]), max(xyxy[i, 1], xyxy[j, 1])
                x2, y2 = min(xyxy[i, 2], xyxy[j, 2]), min(xyxy[i, 3], xyxy[j, 3])
                if i < j and x2 - x1 > 8 and y2 - y1 > 8:
                    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                    inside = (xyxy[:, 0] <= cx) & (cx < xyxy[:, 2])
                    inside &= (xyxy[:, 1] <= cy) & (cy < xyxy[:, 3])
                    if inside.sum() == 2:
                        found = (frame.index, cx, cy, {int(ids[i]), int(ids[j])})
                        break
            if found:
                break
        if found:
            break
    assert found, "a generated video has overlapping boxes"
    frame, cx, cy, tracks = found
    page = page_for(generated_server, hash_=f"#video={VIDEO}&frame={frame}")
    rect = page.locator("#frame").bounding_box()
    scale = rect["width"] / video.info.width
    point = (rect["x"] + cx * scale, rect["y"] + cy * scale)
    page.mouse.click(*point)
    first = page.evaluate("window.annotator.state.pending.track")
    page.mouse.click(*point)
    second = page.evaluate("window.annotator.state.pending.track")
    assert {first, second} == tracks
    page.mouse.click(*point)
    assert page.evaluate("window.annotator.state.pending.track") == first  # and round again
    assert video.motion().revision == 1  # nothing saved
