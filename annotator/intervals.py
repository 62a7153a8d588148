"""The annotator's edits of motion intervals, as pure functions over a list of intervals.

Every edit the browser can make (mark an interval with two clicks, move an end, accept an
automatic interval, delete one) is a function from the current intervals to the new ones. The
server applies them to the saved file under its revision check, so the rules live here once and
are unit-tested without a browser.

The rules:

- An interval is inclusive at both ends; clicking the same car on frames a and b (in either
  order) marks `min(a, b) .. max(a, b)`.
- Two intervals of one label on one track never overlap. Marking a new one over existing ones
  merges them into one manual interval covering all; moving an end into another interval of the
  same label is refused with a message (merging there would surprise whoever moved the end).
- Touching an automatic interval (moving an end, accepting it) makes it manual, with the
  annotator as author: a person has now vouched for it.
- Intervals are addressed by their position in the list the client last read; the server's
  revision check guarantees the client's list is the saved one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from uecity.errors import UECityError
from uecity.records import MotionInterval


class IntervalEditError(UECityError):
    """An edit that would break the interval rules; the message says why (HTTP 422)."""

    exit_code = 2


@dataclass(frozen=True)
class EditResult:
    """The intervals after an edit, and a sentence for the annotator about what happened."""

    intervals: list[MotionInterval]
    message: str
    changed_index: int | None = None  # position of the new/edited interval in `intervals`


def sort_key(interval: MotionInterval) -> tuple[int, int, int, str]:
    """The order of intervals in a motion file (the one `Video.write_motion` writes)."""
    return (interval.track_id, interval.start, interval.end, interval.label)


def describe(interval: MotionInterval) -> str:
    return f"'{interval.label}' {interval.start}–{interval.end} on track {interval.track_id}"


def overlaps(a: MotionInterval, b: MotionInterval) -> bool:
    """Same track, same label, and at least one frame in common."""
    return a.track_id == b.track_id and a.label == b.label and a.start <= b.end and b.start <= a.end


def find_overlaps(intervals: Sequence[MotionInterval]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of intervals that overlap; empty for a valid list."""
    found = []
    groups: dict[tuple[int, str], list[int]] = {}
    for index, interval in enumerate(intervals):
        groups.setdefault((interval.track_id, interval.label), []).append(index)
    for members in groups.values():
        members.sort(key=lambda i: (intervals[i].start, intervals[i].end))
        reach = -1  # furthest end seen so far in this group, and whose it is
        reach_index = -1
        for index in members:
            if intervals[index].start <= reach:
                found.append(tuple(sorted((reach_index, index))))
            if intervals[index].end > reach:
                reach, reach_index = intervals[index].end, index
    return sorted(found)  # type: ignore[arg-type]


def check_no_overlaps(intervals: Sequence[MotionInterval]) -> None:
    """Raise `IntervalEditError` naming the first overlapping pair, if any."""
    pairs = find_overlaps(intervals)
    if pairs:
        i, j = pairs[0]
        raise IntervalEditError(
            f"{describe(intervals[i])} overlaps {describe(intervals[j])}; intervals of one "
            "label on one track must not overlap (merge them or move an end)"
        )


def _sorted_result(
    intervals: list[MotionInterval], changed: MotionInterval | None, message: str
) -> EditResult:
    ordered = sorted(intervals, key=sort_key)
    index = None
    if changed is not None:
        index = next(i for i, interval in enumerate(ordered) if interval is changed)
    return EditResult(ordered, message, index)


def _at(intervals: Sequence[MotionInterval], index: int) -> MotionInterval:
    if not 0 <= index < len(intervals):
        raise IntervalEditError(
            f"no interval #{index} (there are {len(intervals)}); reload the page"
        )
    return intervals[index]


def mark(
    intervals: Sequence[MotionInterval],
    *,
    track_id: int,
    label: str,
    first_click: int,
    second_click: int,
    author: str,
    now: datetime,
) -> EditResult:
    """The two-click edit: label every frame between the clicks, merging same-label overlaps."""
    start, end = sorted((first_click, second_click))
    merged_with = [
        interval
        for interval in intervals
        if interval.track_id == track_id
        and interval.label == label
        and interval.start <= end
        and start <= interval.end
    ]
    for interval in merged_with:
        start, end = min(start, interval.start), max(end, interval.end)
    new = MotionInterval(
        track_id=track_id,
        label=label,
        start=start,
        end=end,
        source="manual",
        author=author,
        timestamp=now,
    )
    kept = [i for i in intervals if not any(i is m for m in merged_with)]
    message = f"marked {describe(new)}"
    if merged_with:
        message += f" (merged with {', '.join(describe(m) for m in merged_with)})"
    return _sorted_result([*kept, new], new, message)


def move_ends(
    intervals: Sequence[MotionInterval],
    index: int,
    *,
    start: int | None = None,
    end: int | None = None,
    author: str,
    now: datetime,
) -> EditResult:
    """Move the start and/or end of one interval; refused if it would overlap a same-label one."""
    old = _at(intervals, index)
    new_start = old.start if start is None else start
    new_end = old.end if end is None else end
    if new_end < new_start:
        raise IntervalEditError(
            f"an interval cannot end (frame {new_end}) before it starts (frame {new_start})"
        )
    new = old.model_copy(
        update={
            "start": new_start,
            "end": new_end,
            "source": "manual",
            "author": author,
            "timestamp": now,
        }
    )
    others = [interval for i, interval in enumerate(intervals) if i != index]
    for other in others:
        if overlaps(new, other):
            raise IntervalEditError(
                f"moving the end would make {describe(new)} overlap {describe(other)}; "
                "delete or shorten that one first"
            )
    return _sorted_result([*others, new], new, f"moved {describe(old)} to {new_start}–{new_end}")


def accept(
    intervals: Sequence[MotionInterval], index: int, *, author: str, now: datetime
) -> EditResult:
    """Vouch for an automatic interval: it becomes manual with the annotator as author."""
    old = _at(intervals, index)
    new = old.model_copy(update={"source": "manual", "author": author, "timestamp": now})
    others = [interval for i, interval in enumerate(intervals) if i != index]
    return _sorted_result([*others, new], new, f"accepted {describe(old)}")


def delete(intervals: Sequence[MotionInterval], index: int) -> EditResult:
    """Remove one interval."""
    old = _at(intervals, index)
    others = [interval for i, interval in enumerate(intervals) if i != index]
    return _sorted_result(others, None, f"deleted {describe(old)}")


def relabel(
    intervals: Sequence[MotionInterval], index: int, *, label: str, author: str, now: datetime
) -> EditResult:
    """Give one interval another label; refused if it would overlap one of that label."""
    old = _at(intervals, index)
    new = old.model_copy(
        update={"label": label, "source": "manual", "author": author, "timestamp": now}
    )
    others = [interval for i, interval in enumerate(intervals) if i != index]
    for other in others:
        if overlaps(new, other):
            raise IntervalEditError(
                f"relabelling would make {describe(new)} overlap {describe(other)}"
            )
    return _sorted_result([*others, new], new, f"relabelled {describe(old)} as '{label}'")
