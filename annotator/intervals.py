"""The annotator's edits of motion intervals, as pure functions over a list of intervals.

Every edit the browser can make (mark an interval with two clicks, move an end, accept an
automatic interval, relabel, delete, accept many at once) is a function from the current
intervals to the new ones. The server applies them to the saved file, so the rules live here
once and are unit-tested without a browser.

The rules:

- An interval is inclusive at both ends; clicking the same car on frames a and b (in either
  order) marks `min(a, b) .. max(a, b)`. Ends are clamped to the track's life (the frames from
  its first to its last box): a label cannot hold where the object is not.
- Two intervals of one label on one track never overlap. A new mark over *manual* intervals of
  its label merges with them (a person extending their own mark); over *automatic* ones it
  replaces them: the person's frames are the truth, so a tighter mark shrinks an automatic
  interval. Moving an end into another interval of the same label is refused with a message.
- Review state (`review_state`): an automatic interval nobody touched is `unreviewed`; one a
  person accepted as it is stays automatic with the reviewer as author and a timestamp
  (`accepted`); anything a person marked or changed is manual (`corrected`).
- An automatic interval that is corrected, replaced, relabelled or deleted goes to the file's
  history as the generator wrote it.
- Edits name their interval by value (`target`: the interval as the client saw it), not by
  position: if it changed or went away meanwhile, the edit is refused (`IntervalGone`) rather
  than applied to whatever now sits at that position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from uecity.core.errors import UECityError
from uecity.records import MotionInterval

ReviewState = Literal["unreviewed", "accepted", "corrected"]
TrackLife = tuple[int, int]  # first and last frame with a box


class IntervalEditError(UECityError):
    """An edit that would break the interval rules; the message says why (HTTP 422)."""

    exit_code = 2


class IntervalGone(IntervalEditError):
    """The edited interval is no longer in the file: someone changed it (HTTP 409)."""


@dataclass(frozen=True)
class EditResult:
    """The intervals after an edit, and a sentence for the annotator about what happened."""

    intervals: list[MotionInterval]
    message: str
    changed: MotionInterval | None = None  # the new or edited interval, to keep it selected
    superseded: list[MotionInterval] = field(default_factory=list)  # automatic ones, for history


def sort_key(interval: MotionInterval) -> tuple[int, int, int, str]:
    """The order of intervals in a motion file (the one `Video.write_motion` writes)."""
    return (interval.track_id, interval.start, interval.end, interval.label)


def describe(interval: MotionInterval) -> str:
    return f"'{interval.label}' {interval.start}–{interval.end} on track {interval.track_id}"


def review_state(interval: MotionInterval) -> ReviewState:
    if interval.source == "manual":
        return "corrected"
    return "unreviewed" if interval.timestamp is None else "accepted"


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


def check_within_life(interval: MotionInterval, life: TrackLife | None) -> None:
    """Raise `IntervalEditError` if the interval reaches past its track's boxes."""
    if life is None:
        raise IntervalEditError(f"{describe(interval)}: the track has no boxes in this video")
    if interval.start < life[0] or interval.end > life[1]:
        raise IntervalEditError(
            f"{describe(interval)} reaches past the track's life (frames {life[0]}–{life[1]})"
        )


def clamp(start: int, end: int, life: TrackLife | None, track_id: int) -> tuple[int, int]:
    """`start..end` cut to the track's life; refused if nothing of it is left."""
    if life is None:
        raise IntervalEditError(f"track {track_id} has no boxes in this video")
    clamped = max(start, life[0]), min(end, life[1])
    if clamped[1] < clamped[0]:
        raise IntervalEditError(
            f"frames {start}–{end} are outside track {track_id}'s life ({life[0]}–{life[1]})"
        )
    return clamped


def _result(
    intervals: list[MotionInterval],
    changed: MotionInterval | None,
    message: str,
    superseded: Sequence[MotionInterval] = (),
) -> EditResult:
    auto = [old for old in superseded if old.source == "auto"]
    return EditResult(sorted(intervals, key=sort_key), message, changed, auto)


def find(intervals: Sequence[MotionInterval], target: MotionInterval) -> int:
    """Position of `target` (compared by value) in `intervals`; `IntervalGone` if absent."""
    for index, interval in enumerate(intervals):
        if interval == target:
            return index
    raise IntervalGone(
        f"{describe(target)} is no longer there: someone changed or deleted it meanwhile "
        "(the page now shows the saved intervals; nothing was applied)"
    )


def _without(intervals: Sequence[MotionInterval], index: int) -> list[MotionInterval]:
    return [interval for i, interval in enumerate(intervals) if i != index]


def _clamp_note(asked: tuple[int, int], got: tuple[int, int]) -> str:
    return "" if asked == got else f" (clamped to the track's life from {asked[0]}–{asked[1]})"


def mark(
    intervals: Sequence[MotionInterval],
    *,
    track_id: int,
    label: str,
    first_click: int,
    second_click: int,
    life: TrackLife | None,
    author: str,
    now: datetime,
) -> EditResult:
    """The two-click edit: label every frame between the clicks.

    Same-label manual intervals it touches are merged in; same-label automatic ones it
    touches are replaced (and go to history)."""
    asked = tuple(sorted((first_click, second_click)))
    start, end = clamp(asked[0], asked[1], life, track_id)
    clamped = (start, end)
    touched = [
        interval
        for interval in intervals
        if interval.track_id == track_id
        and interval.label == label
        and interval.start <= end
        and start <= interval.end
    ]
    merged = [interval for interval in touched if interval.source == "manual"]
    replaced = [interval for interval in touched if interval.source == "auto"]
    for interval in merged:
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
    kept = [i for i in intervals if not any(i is t for t in touched)]
    message = f"marked {describe(new)}" + _clamp_note(asked, clamped)  # type: ignore[arg-type]
    if merged:
        message += f" (merged with {', '.join(describe(m) for m in merged)})"
    if replaced:
        message += f" (replaces the automatic {', '.join(describe(r) for r in replaced)})"
    return _result([*kept, new], new, message, replaced)


def move_ends(
    intervals: Sequence[MotionInterval],
    target: MotionInterval,
    *,
    start: int | None = None,
    end: int | None = None,
    life: TrackLife | None,
    author: str,
    now: datetime,
) -> EditResult:
    """Move the start and/or end of one interval; refused if it would overlap a same-label one."""
    index = find(intervals, target)
    asked = (target.start if start is None else start, target.end if end is None else end)
    if asked[1] < asked[0]:
        raise IntervalEditError(
            f"an interval cannot end (frame {asked[1]}) before it starts (frame {asked[0]})"
        )
    new_start, new_end = clamp(asked[0], asked[1], life, target.track_id)
    new = target.model_copy(
        update={
            "start": new_start,
            "end": new_end,
            "source": "manual",
            "author": author,
            "timestamp": now,
        }
    )
    others = _without(intervals, index)
    for other in others:
        if overlaps(new, other):
            raise IntervalEditError(
                f"moving the end would make {describe(new)} overlap {describe(other)}; "
                "delete or shorten that one first"
            )
    message = f"moved {describe(target)} to {new_start}–{new_end}" + _clamp_note(
        asked, (new_start, new_end)
    )
    return _result([*others, new], new, message, [target])


def accept(
    intervals: Sequence[MotionInterval], target: MotionInterval, *, author: str, now: datetime
) -> EditResult:
    """Vouch for an automatic interval as it is: it stays automatic, with the reviewer's name."""
    index = find(intervals, target)
    if target.source != "auto":
        return _result(list(intervals), target, f"{describe(target)} is manual already")
    new = target.model_copy(update={"author": author, "timestamp": now})
    return _result([*_without(intervals, index), new], new, f"accepted {describe(target)}")


def accept_all(
    intervals: Sequence[MotionInterval],
    *,
    track_id: int | None,
    label: str | None,
    author: str,
    now: datetime,
) -> EditResult:
    """Accept every unreviewed automatic interval of a track and/or a label."""
    if track_id is None and label is None:
        raise IntervalEditError("say which intervals to accept: a track, a label or both")
    result, count = [], 0
    for interval in intervals:
        if (
            review_state(interval) == "unreviewed"
            and (track_id is None or interval.track_id == track_id)
            and (label is None or interval.label == label)
        ):
            interval = interval.model_copy(update={"author": author, "timestamp": now})
            count += 1
        result.append(interval)
    what = " and ".join(
        part
        for part in (
            f"track {track_id}" if track_id is not None else "",
            f"'{label}'" if label is not None else "",
        )
        if part
    )
    return _result(result, None, f"accepted {count} unreviewed intervals of {what}")


def delete(intervals: Sequence[MotionInterval], target: MotionInterval) -> EditResult:
    """Remove one interval."""
    index = find(intervals, target)
    return _result(_without(intervals, index), None, f"deleted {describe(target)}", [target])


def relabel(
    intervals: Sequence[MotionInterval],
    target: MotionInterval,
    *,
    label: str,
    author: str,
    now: datetime,
) -> EditResult:
    """Give one interval another label; refused if it would overlap one of that label."""
    index = find(intervals, target)
    new = target.model_copy(
        update={"label": label, "source": "manual", "author": author, "timestamp": now}
    )
    others = _without(intervals, index)
    for other in others:
        if overlaps(new, other):
            raise IntervalEditError(
                f"relabelling would make {describe(new)} overlap {describe(other)}"
            )
    return _result([*others, new], new, f"relabelled {describe(target)} as '{label}'", [target])
