"""The interval rules of the annotator, without a browser or a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from annotator import intervals as edits
from uecity.records import MotionInterval

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def auto(track: int, label: str, start: int, end: int) -> MotionInterval:
    return MotionInterval(track_id=track, label=label, start=start, end=end, source="auto")


def test_mark_fills_every_frame_between_the_clicks_in_either_order() -> None:
    for first, second in ((3, 9), (9, 3)):
        result = edits.mark(
            [],
            track_id=2,
            label="turning left",
            first_click=first,
            second_click=second,
            author="ada",
            now=NOW,
        )
        (interval,) = result.intervals
        assert (interval.start, interval.end) == (3, 9)
        assert interval.source == "manual" and interval.author == "ada"
        assert interval.timestamp == NOW and result.changed_index == 0


def test_mark_on_one_frame_is_a_one_frame_interval() -> None:
    result = edits.mark(
        [], track_id=0, label="stopped", first_click=4, second_click=4, author="ada", now=NOW
    )
    assert (result.intervals[0].start, result.intervals[0].end) == (4, 4)


def test_mark_merges_overlapping_same_label_intervals_only() -> None:
    existing = [
        auto(1, "moving", 0, 5),
        auto(1, "moving", 8, 12),
        auto(1, "moving", 20, 25),
        auto(1, "stopped", 4, 9),  # another label: kept as it is
        auto(2, "moving", 0, 30),  # another track: kept
    ]
    result = edits.mark(
        existing, track_id=1, label="moving", first_click=4, second_click=10, author="bo", now=NOW
    )
    mine = [i for i in result.intervals if i.track_id == 1 and i.label == "moving"]
    assert [(i.start, i.end, i.source) for i in mine] == [(0, 12, "manual"), (20, 25, "auto")]
    assert len(result.intervals) == 4
    assert "merged" in result.message
    assert edits.find_overlaps(result.intervals) == []


def test_move_ends_makes_the_interval_manual_and_refuses_overlap() -> None:
    existing = [auto(1, "moving", 0, 5), auto(1, "moving", 10, 15)]
    moved = edits.move_ends(existing, 0, end=7, author="ada", now=NOW)
    assert (moved.intervals[0].end, moved.intervals[0].source) == (7, "manual")
    assert moved.intervals[0].author == "ada"
    with pytest.raises(edits.IntervalEditError, match="overlap"):
        edits.move_ends(existing, 0, end=10, author="ada", now=NOW)
    with pytest.raises(edits.IntervalEditError, match="before it starts"):
        edits.move_ends(existing, 1, start=16, author="ada", now=NOW)


def test_accept_delete_relabel_and_bad_index() -> None:
    existing = [auto(1, "moving", 0, 5), auto(1, "stopped", 6, 9)]
    accepted = edits.accept(existing, 1, author="ada", now=NOW).intervals[1]
    assert (accepted.source, accepted.author, accepted.start) == ("manual", "ada", 6)
    assert edits.delete(existing, 0).intervals == [existing[1]]
    relabelled = edits.relabel(existing, 1, label="parked", author="ada", now=NOW)
    assert relabelled.intervals[1].label == "parked"
    with pytest.raises(edits.IntervalEditError, match="overlap"):
        edits.relabel(
            [auto(1, "moving", 0, 5), auto(1, "stopped", 3, 9)],
            1,
            label="moving",
            author="ada",
            now=NOW,
        )
    with pytest.raises(edits.IntervalEditError, match="no interval #5"):
        edits.delete(existing, 5)


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], []),
        ([(0, 5), (6, 9)], []),  # touching is not overlapping
        ([(0, 5), (5, 9)], [(0, 1)]),
        ([(0, 20), (2, 3), (10, 12)], [(0, 1), (0, 2)]),
    ],
)
def test_find_overlaps(spans: list[tuple[int, int]], expected: list[tuple[int, int]]) -> None:
    assert edits.find_overlaps([auto(0, "moving", a, b) for a, b in spans]) == expected
