"""End to end in a real headless Chromium: what an annotator does, checked on disk."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.server import AnnotatorServer
from uecity.dataset import Dataset, Video

VIDEO = "cross-0001"


def clickable_track(video: Video, first: int, last: int) -> tuple[int, int, int]:
    """A track with a box on frames `first .. last` whose centre lies in no other box."""
    frames = list(video.frames())
    candidates = None
    for frame in (first, last):
        boxes = frames[frame].boxes
        ok = set()
        for row, track in enumerate(boxes.track_id.tolist()):
            cx, cy = boxes.xyxy[row, [0, 2]].mean(), boxes.xyxy[row, [1, 3]].mean()
            inside = (boxes.xyxy[:, 0] <= cx) & (cx < boxes.xyxy[:, 2])
            inside &= (boxes.xyxy[:, 1] <= cy) & (cy < boxes.xyxy[:, 3])
            if inside.sum() == 1:
                ok.add(track)
        candidates = ok if candidates is None else candidates & ok
    assert candidates, "the synthetic video should have a clickable car"
    return min(candidates), first, last


def find_span(video: Video, length: int = 5) -> tuple[int, int, int]:
    for first in range(video.info.num_frames - length):
        try:
            return clickable_track(video, first, first + length)
        except AssertionError:
            continue
    raise AssertionError("no track visible long enough")


def click_box(page: Any, video: Video, frame: int, track: int) -> None:
    """Click the centre of `track`'s box on `frame`, in page coordinates."""
    boxes = list(video.frames())[frame].boxes
    row = int(np.flatnonzero(boxes.track_id == track)[0])
    x1, y1, x2, y2 = boxes.xyxy[row]
    rect = page.locator("#frame").bounding_box()
    scale = rect["width"] / video.info.width
    page.mouse.click(rect["x"] + (x1 + x2) / 2 * scale, rect["y"] + (y1 + y2) / 2 * scale)


def wait_saved(page: Any, revision: int) -> None:
    page.wait_for_function(
        f"document.querySelector('#save-status').textContent === 'Saved rev {revision}'"
    )


def current_frame(page: Any) -> int:
    return page.evaluate("window.annotator.state.frame")


def test_click_a_box_on_two_frames_writes_the_interval(
    scene_server: AnnotatorServer, scene_dataset: Dataset, page_for: Any
) -> None:
    video = scene_dataset.video(VIDEO)
    track, first, last = find_span(video)
    page = page_for(scene_server, hash_=f"#video={VIDEO}&frame={first}")
    assert current_frame(page) == first
    page.keyboard.press("3")  # "turning left"
    click_box(page, video, first, track)
    assert "Start of 'turning left'" in page.locator("#pending").text_content()
    for _ in range(last - first):
        page.keyboard.press("ArrowRight")
    assert current_frame(page) == last
    click_box(page, video, last, track)
    wait_saved(page, 2)
    saved = video.motion()
    assert saved.revision == 2
    manual = [i for i in saved.intervals if i.source == "manual"]
    assert len(manual) == 1
    interval = manual[0]
    assert (interval.track_id, interval.label, interval.start, interval.end) == (
        track,
        "turning left",
        first,
        last,
    )
    assert interval.author == "ada" and interval.timestamp is not None
    assert page.errors == []


def test_two_tabs_conflict_is_refused_with_a_message(
    scene_server: AnnotatorServer, scene_dataset: Dataset, page_for: Any
) -> None:
    video = scene_dataset.video(VIDEO)
    track, first, _ = find_span(video, 2)
    hash_ = f"#video={VIDEO}&frame={first}"
    tab_a = page_for(scene_server, author="ada", hash_=hash_)
    tab_b = page_for(scene_server, author="bo", hash_=hash_)
    for tab, label in ((tab_a, "2"), (tab_b, "4")):
        tab.keyboard.press(label)
    # tab A marks "stopped" and saves revision 2
    click_box(tab_a, video, first, track)
    click_box(tab_a, video, first, track)
    wait_saved(tab_a, 2)
    # tab B, still at revision 1, tries "turning right": refused, nothing overwritten
    click_box(tab_b, video, first, track)
    click_box(tab_b, video, first, track)
    tab_b.wait_for_function(
        "document.querySelector('#save-status').textContent === 'Conflict: reload'"
    )
    assert tab_b.locator("#conflict").is_visible()
    assert "Nothing was overwritten" in tab_b.locator("#conflict-text").text_content()
    saved = video.motion()
    assert saved.revision == 2
    assert [i.label for i in saved.intervals if i.source == "manual"] == ["stopped"]
    assert all(i.author != "bo" for i in saved.intervals)
    tab_b.locator("#reload").click()
    wait_saved(tab_b, 2)
    assert not tab_b.locator("#conflict").is_visible()


def test_keyboard_flow(
    scene_server: AnnotatorServer, scene_dataset: Dataset, page_for: Any
) -> None:
    video = scene_dataset.video(VIDEO)
    page = page_for(scene_server, hash_=f"#video={VIDEO}&frame=0")
    keyboard = page.keyboard
    keyboard.press("ArrowRight")
    keyboard.press("ArrowRight")
    assert current_frame(page) == 2
    keyboard.press("ArrowLeft")
    assert current_frame(page) == 1
    keyboard.press("Shift+ArrowRight")
    assert current_frame(page) == 11
    keyboard.press("PageDown")
    assert current_frame(page) == 21
    keyboard.press("PageUp")
    keyboard.press("Shift+ArrowLeft")
    assert current_frame(page) == 1
    keyboard.press("End")
    assert current_frame(page) == video.info.num_frames - 1
    keyboard.press("Home")
    keyboard.press("Space")  # play ...
    page.wait_for_function("window.annotator.state.frame >= 3")
    keyboard.press("Space")  # ... and pause
    paused_at = current_frame(page)
    page.wait_for_timeout(300)
    assert current_frame(page) == paused_at and paused_at >= 3
    keyboard.press("2")
    assert page.locator(".label.active").text_content() == "2 stopped"
    keyboard.press("1")
    assert page.locator(".label.active").text_content() == "1 moving"

    track, first, last = find_span(video, 3)
    page.evaluate(f"window.annotator.show({first})")
    keyboard.press("2")
    click_box(page, video, first, track)
    for _ in range(last - first):
        keyboard.press("ArrowRight")
    click_box(page, video, last, track)
    wait_saved(page, 2)
    assert any(i.label == "stopped" for i in video.motion().intervals)
    keyboard.press("Delete")  # the new interval is selected: delete it
    wait_saved(page, 3)
    assert not any(i.label == "stopped" for i in video.motion().intervals)
    keyboard.press("Control+z")  # undo the delete
    wait_saved(page, 4)
    assert any(i.label == "stopped" for i in video.motion().intervals)
    keyboard.press("Control+z")  # undo the mark
    wait_saved(page, 5)
    assert video.motion().intervals == scene_dataset.video(VIDEO).motion().intervals
    assert not any(i.source == "manual" for i in video.motion().intervals)
    keyboard.press("Control+Shift+Z")  # redo the mark
    wait_saved(page, 6)
    assert [i.label for i in video.motion().intervals if i.source == "manual"] == ["stopped"]
    assert page.errors == []


def test_review_auto_interval_accept_move_and_hover(
    scene_server: AnnotatorServer, scene_dataset: Dataset, page_for: Any
) -> None:
    video = scene_dataset.video(VIDEO)
    auto = video.motion().intervals[0]
    page = page_for(scene_server, hash_=f"#video={VIDEO}&frame={auto.start}")
    page.evaluate("window.annotator.state.selected = 0")
    page.keyboard.press("Escape")
    page.evaluate("window.annotator.state.selected = 0")
    page.keyboard.press("a")
    wait_saved(page, 2)
    accepted = video.motion().intervals[0]
    assert (accepted.source, accepted.author) == ("manual", "ada")
    page.evaluate(f"window.annotator.show({auto.start + 1})")
    page.keyboard.press("[")
    wait_saved(page, 3)
    assert video.motion().intervals[0].start == auto.start + 1
    # hovering a box highlights its track
    click_track, first, _ = find_span(video, 1)
    page.evaluate(f"window.annotator.show({first})")
    boxes = list(video.frames())[first].boxes
    row = int(np.flatnonzero(boxes.track_id == click_track)[0])
    x1, y1, x2, y2 = boxes.xyxy[row]
    rect = page.locator("#frame").bounding_box()
    scale = rect["width"] / video.info.width
    page.mouse.move(rect["x"] + (x1 + x2) / 2 * scale, rect["y"] + (y1 + y2) / 2 * scale)
    assert page.evaluate("window.annotator.state.hover") == click_track


def test_smallest_box_wins_the_click(small_server: AnnotatorServer, page_for: Any) -> None:
    page = page_for(small_server)
    hits = page.evaluate(
        """async () => {
          const { FrameView } = await import('/static/frameview.js');
          const view = new FrameView(document.createElement('canvas'));
          view.setVideo({ width: 100, height: 100, boxes: { frame_offsets: [0, 3],
            track_id: [1, 2, 3], xyxy: [0, 0, 100, 100, 10, 10, 30, 30, 12, 12, 20, 20] } });
          return [view.hitTest(0, 15, 15), view.hitTest(0, 25, 25), view.hitTest(0, 50, 50),
                  view.hitTest(0, 30, 15), view.hitTest(0, 100, 5)];
        }"""
    )
    assert hits == [3, 2, 1, 1, None]  # right edges are exclusive


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


def test_adding_a_label_in_the_tool(
    small_server: AnnotatorServer, small_dataset: Dataset, page_for: Any
) -> None:
    page = page_for(small_server)
    page.locator("#new-label").fill("reversing")
    page.locator("#new-label").press("Enter")
    page.wait_for_selector(".label.active >> text=reversing")
    labels = Dataset.open(small_dataset.root).manifest.vocabulary.motion_labels
    assert labels[-1] == "reversing"
