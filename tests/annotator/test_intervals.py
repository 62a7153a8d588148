"""The interval rules of the annotator, without a browser or a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from annotator import intervals as edits
from uecity.records import MotionInterval

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
LIFE = (0, 100)


def auto(track: int, label: str, start: int, end: int) -> MotionInterval:
    return MotionInterval(track_id=track, label=label, start=start, end=end, source="auto")


def manual(track: int, label: str, start: int, end: int) -> MotionInterval:
    return MotionInterval(
        track_id=track, label=label, start=start, end=end, source="manual", author="ada"
    )


def mark(existing: list[MotionInterval], track: int, label: str, a: int, b: int, life=LIFE):  # type: ignore[no-untyped-def]
    return edits.mark(
        existing,
        track_id=track,
        label=label,
        first_click=a,
        second_click=b,
        life=life,
        author="bo",
        now=NOW,
    )


def test_mark_fills_every_frame_between_the_clicks_in_either_order() -> None:
    for first, second in ((3, 9), (9, 3)):
        result = mark([], 2, "turning left", first, second)
        (interval,) = result.intervals
        assert (interval.start, interval.end) == (3, 9)
        assert interval.source == "manual" and interval.author == "bo"
        assert interval.timestamp == NOW and result.changed is interval
        assert edits.review_state(interval) == "corrected"


def test_mark_merges_manual_and_replaces_automatic_same_label_intervals() -> None:
    existing = [
        manual(1, "moving", 0, 5),
        auto(1, "moving", 8, 12),
        auto(1, "moving", 20, 25),
        auto(1, "stopped", 4, 9),  # another label: kept as it is
        auto(2, "moving", 0, 30),  # another track: kept
    ]
    result = mark(existing, 1, "moving", 4, 10)
    mine = [i for i in result.intervals if i.track_id == 1 and i.label == "moving"]
    # merged with the manual 0-5; the automatic 8-12 is replaced, not merged: ends at 10
    assert [(i.start, i.end, i.source) for i in mine] == [(0, 10, "manual"), (20, 25, "auto")]
    assert len(result.intervals) == 4
    assert "merged" in result.message and "replaces the automatic" in result.message
    assert result.superseded == [auto(1, "moving", 8, 12)]
    assert edits.find_overlaps(result.intervals) == []


def test_a_tighter_mark_inside_an_automatic_interval_shrinks_it() -> None:
    result = mark([auto(3, "turning left", 25, 44)], 3, "turning left", 28, 40)
    assert [(i.start, i.end, i.source) for i in result.intervals] == [(28, 40, "manual")]
    assert result.superseded == [auto(3, "turning left", 25, 44)]


def test_marks_and_moves_are_clamped_to_the_track_life() -> None:
    result = mark([], 1, "moving", 2, 60, life=(10, 50))
    assert (result.intervals[0].start, result.intervals[0].end) == (10, 50)
    assert "clamped" in result.message
    with pytest.raises(edits.IntervalEditError, match="outside track 1's life"):
        mark([], 1, "moving", 60, 70, life=(10, 50))
    with pytest.raises(edits.IntervalEditError, match="no boxes"):
        mark([], 1, "moving", 1, 2, life=None)
    target = auto(1, "moving", 20, 30)
    moved = edits.move_ends([target], target, end=99, life=(10, 50), author="bo", now=NOW)
    assert moved.intervals[0].end == 50 and moved.superseded == [target]


def test_edits_name_their_interval_by_value() -> None:
    a, b = auto(0, "moving", 0, 10), auto(1, "moving", 0, 10)
    first = edits.delete([a, b], a)
    assert first.intervals == [b]
    # the same delete again (a fast second key press) must not hit the neighbour
    with pytest.raises(edits.IntervalGone):
        edits.delete(first.intervals, a)
    with pytest.raises(edits.IntervalGone):
        edits.accept(first.intervals, a, author="bo", now=NOW)


def test_accept_keeps_the_interval_automatic_and_records_the_reviewer() -> None:
    target = auto(0, "moving", 0, 4)
    assert edits.review_state(target) == "unreviewed"
    result = edits.accept([target], target, author="ada", now=NOW)
    (accepted,) = result.intervals
    assert accepted.source == "auto" and accepted.author == "ada" and accepted.timestamp == NOW
    assert edits.review_state(accepted) == "accepted" and result.superseded == []


def test_accept_all_of_a_track_or_a_label() -> None:
    existing = [auto(0, "moving", 0, 4), auto(0, "far", 0, 4), auto(1, "moving", 0, 4)]
    by_track = edits.accept_all(existing, track_id=0, label=None, author="ada", now=NOW)
    states = [(i.track_id, i.label, edits.review_state(i)) for i in by_track.intervals]
    assert states == [
        (0, "far", "accepted"),
        (0, "moving", "accepted"),
        (1, "moving", "unreviewed"),
    ]
    by_label = edits.accept_all(existing, track_id=None, label="moving", author="ada", now=NOW)
    assert [edits.review_state(i) for i in by_label.intervals] == [
        "unreviewed",
        "accepted",
        "accepted",
    ]
    with pytest.raises(edits.IntervalEditError):
        edits.accept_all(existing, track_id=None, label=None, author="ada", now=NOW)


def test_move_ends_refuses_overlaps_and_reversed_ends() -> None:
    first, second = auto(0, "moving", 0, 4), auto(0, "moving", 8, 12)
    with pytest.raises(edits.IntervalEditError, match="overlap"):
        edits.move_ends([first, second], first, end=9, life=LIFE, author="a", now=NOW)
    with pytest.raises(edits.IntervalEditError, match="before it starts"):
        edits.move_ends([first, second], first, start=6, life=LIFE, author="a", now=NOW)
    moved = edits.move_ends([first, second], first, end=6, life=LIFE, author="a", now=NOW)
    assert moved.changed is not None and (moved.changed.end, moved.changed.source) == (6, "manual")


def test_relabel_and_delete_put_automatic_intervals_in_history() -> None:
    target = auto(0, "moving", 0, 4)
    relabelled = edits.relabel([target], target, label="stopped", author="a", now=NOW)
    assert relabelled.intervals[0].label == "stopped" and relabelled.superseded == [target]
    with pytest.raises(edits.IntervalEditError, match="overlap"):
        edits.relabel(
            [target, auto(0, "stopped", 2, 3)], target, label="stopped", author="a", now=NOW
        )
    mine = manual(0, "moving", 0, 4)
    assert edits.delete([mine], mine).superseded == []  # only the generator's work is history


@pytest.mark.parametrize(
    ("intervals", "pairs"),
    [
        ([], []),
        ([auto(0, "a", 0, 4), auto(0, "a", 5, 9)], []),
        ([auto(0, "a", 0, 4), auto(0, "a", 4, 9)], [(0, 1)]),
        ([auto(0, "a", 0, 4), auto(0, "b", 2, 9), auto(1, "a", 0, 4)], []),
        ([auto(0, "a", 0, 20), auto(0, "a", 3, 5), auto(0, "a", 8, 9)], [(0, 1), (0, 2)]),
    ],
)
def test_find_overlaps(intervals: list[MotionInterval], pairs: list[tuple[int, int]]) -> None:
    assert edits.find_overlaps(intervals) == pairs
