"""Frame-wise labels without flicker: threshold hysteresis, minimum run length, intervals.

Labels are per-frame arrays of strings ("" for no label). A label changes only when the signal
leaves its band by a margin (`hysteresis_states`), short runs are absorbed by their neighbours
(`absorb_short_runs`), and `intervals` turns the result into inclusive frame intervals that
break wherever frames are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def hysteresis_states(
    values: Sequence[float] | np.ndarray, enter: float, leave: float, initial: bool | None = None
) -> np.ndarray:
    """Boolean state per sample: turns on above `enter`, off below `leave` (leave <= enter)."""
    values = np.asarray(values, np.float64)
    out = np.zeros(len(values), bool)
    state = bool(values[0] >= (enter + leave) / 2) if initial is None and len(values) else False
    if initial is not None:
        state = initial
    for i, v in enumerate(values):
        if state and v < leave:
            state = False
        elif not state and v > enter:
            state = True
        out[i] = state
    return out


def sticky_sectors(
    angles: Sequence[float] | np.ndarray, centres: Sequence[float], margin: float
) -> np.ndarray:
    """Index of the angular sector of each angle (radians), kept until clearly left.

    The state moves to the nearest centre only when the angle is more than half a sector plus
    `margin` away from the current centre.
    """
    angles = np.asarray(angles, np.float64)
    centres_a = np.asarray(centres, np.float64)
    half = np.pi / len(centres_a)
    out = np.zeros(len(angles), np.int64)
    state = -1
    for i, a in enumerate(angles):
        diff = np.abs((a - centres_a + np.pi) % (2 * np.pi) - np.pi)
        nearest = int(np.argmin(diff))
        if state < 0 or diff[state] > half + margin:
            state = nearest
        out[i] = state
    return out


def absorb_short_runs(labels: list[str], min_run: int) -> list[str]:
    """Replace runs shorter than `min_run` with the label before them (or after, at the start).

    An unlabelled ("") run at either end is kept: a label does not grow past the frames that
    support it.
    """
    labels = list(labels)
    if min_run <= 1 or not labels:
        return labels
    changed = True
    while changed:
        changed = False
        runs = _runs(labels)
        if len(runs) <= 1:
            break
        for k, (start, end, label) in enumerate(runs):
            edge = k == 0 or k == len(runs) - 1
            if end - start + 1 < min_run and not (edge and label == ""):
                fill = runs[k - 1][2] if k > 0 else runs[k + 1][2]
                for i in range(start, end + 1):
                    labels[i] = fill
                changed = True
                break
    return labels


def _runs(labels: list[str]) -> list[tuple[int, int, str]]:
    runs = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i - 1, labels[start]))
            start = i
    return runs


def intervals(
    frames: Sequence[int] | np.ndarray,
    labels: Sequence[str],
    keep: Callable[[int], bool] | None = None,
) -> list[tuple[str, int, int]]:
    """(label, start, end inclusive) runs of equal non-empty labels over consecutive frames.

    `keep(frame)` drops frames (an interval breaks at a dropped or missing frame).
    """
    out: list[tuple[str, int, int]] = []
    current: list | None = None
    previous = None
    for frame, label in zip((int(f) for f in frames), labels, strict=True):
        ok = bool(label) and (keep is None or keep(frame))
        if current is not None and (not ok or label != current[0] or frame != previous + 1):
            out.append((current[0], current[1], current[2]))
            current = None
        if ok:
            if current is None:
                current = [label, frame, frame]
            else:
                current[2] = frame
        previous = frame
    if current is not None:
        out.append((current[0], current[1], current[2]))
    return out
