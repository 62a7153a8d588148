"""Automatic motion intervals from trajectories (`source=auto`), for review in the annotator.

From each track's per-frame ground truth (position, heading, speed, parked, which lane kind) and
its annotated boxes, label per interval:

- motion state: moving / stopped / parked;
- manoeuvre (vehicles): turning left / turning right (a sustained heading change of at least
  40°), going straight (through the junction without turning);
- heading relative to the camera: towards / away / crossing left-to-right / crossing
  right-to-left (the actor's heading against the camera's ground axis);
- pedestrians: crossing the road / walking on the sidewalk;
- image position: on the left / on the right, near / far (from the box).

Every label goes through hysteresis and a minimum run length, so it does not flicker.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from uecity.camera import Camera
from uecity.motion.hysteresis import (
    absorb_short_runs,
    hysteresis_states,
    intervals,
    sticky_sectors,
)

MOTION_STATES = ("moving", "stopped", "parked")
MANOEUVRES = ("turning left", "turning right", "going straight")
# The labels the composer's default vocabulary (uecity/language) tests for.
DIRECTIONS = ("away", "crossing left-to-right", "towards", "crossing right-to-left")
PEDESTRIAN_ACTIONS = ("crossing the road", "walking on the sidewalk")
POSITIONS = ("on the left", "on the right", "near", "far")
VOCABULARY = {
    "motion": list(MOTION_STATES),
    "manoeuvre": list(MANOEUVRES),
    "direction": list(DIRECTIONS),
    "pedestrian": list(PEDESTRIAN_ACTIONS),
    "position": list(POSITIONS),
}


@dataclass
class Trajectory:
    """One track's ground truth, one entry per frame it exists (frames increasing)."""

    track_id: int
    category: str  # vehicle | pedestrian
    frames: np.ndarray  # (N,) int
    x: np.ndarray
    y: np.ndarray
    heading: np.ndarray  # radians, CCW from east
    speed: np.ndarray  # m/s
    parked: np.ndarray  # bool
    on_junction: np.ndarray  # bool: inside the junction on an internal lane
    on_crossing: np.ndarray  # bool: on a pedestrian crossing
    # Annotated frames only: frame index, box centre x and box bottom y (pixels).
    box_frames: np.ndarray
    box_cx: np.ndarray
    box_bottom: np.ndarray


@dataclass(frozen=True)
class AutoInterval:
    track_id: int
    label: str
    start: int
    end: int  # inclusive


@dataclass(frozen=True)
class LabelConfig:
    """Thresholds of the automatic labels (speeds in m/s, angles in degrees, times in s)."""

    fps: float = 10.0
    moving_enter: float = 0.8
    moving_leave: float = 0.25
    turn_rate_enter: float = 9.0
    turn_rate_leave: float = 3.0
    turn_min_change: float = 40.0
    straight_max_change: float = 20.0
    direction_margin: float = 12.0
    min_run_s: float = 0.6
    left_right_band: float = 0.04  # share of the width around the centre line
    near_enter: float = 0.62  # box bottom below this share of the height: near
    near_leave: float = 0.56

    @property
    def min_run(self) -> int:
        return max(1, round(self.min_run_s * self.fps))


def _motion_labels(t: Trajectory, cfg: LabelConfig) -> list[str]:
    moving = hysteresis_states(t.speed, cfg.moving_enter, cfg.moving_leave)
    raw = [
        "parked" if p else ("moving" if m else "stopped")
        for p, m in zip(t.parked, moving, strict=True)
    ]
    return absorb_short_runs(raw, cfg.min_run)


def _smooth(values: np.ndarray, k: int) -> np.ndarray:
    if len(values) < 3 or k <= 1:
        return values
    k = min(k, len(values))
    pad = np.pad(values, (k // 2, k - 1 - k // 2), mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def _manoeuvre_labels(t: Trajectory, cfg: LabelConfig) -> list[str]:
    n = len(t.frames)
    labels = [""] * n
    if t.category != "vehicle" or n < 2:
        return labels
    heading = _smooth(np.unwrap(t.heading), max(3, cfg.min_run // 2))
    rate = np.degrees(np.gradient(heading)) * cfg.fps  # deg/s
    turning = hysteresis_states(np.abs(rate), cfg.turn_rate_enter, cfg.turn_rate_leave, False)
    i = 0
    while i < n:
        if not turning[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and turning[j + 1]:
            j += 1
        change = math.degrees(heading[j] - heading[i])
        if abs(change) >= cfg.turn_min_change:
            label = "turning left" if change > 0 else "turning right"
            labels[i : j + 1] = [label] * (j - i + 1)
        i = j + 1
    # Through the junction without turning: going straight.
    i = 0
    while i < n:
        if not t.on_junction[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and t.on_junction[j + 1]:
            j += 1
        change = abs(math.degrees(heading[j] - heading[i]))
        if change < cfg.straight_max_change and not any(labels[i : j + 1]):
            labels[i : j + 1] = ["going straight"] * (j - i + 1)
        i = j + 1
    return absorb_short_runs(labels, cfg.min_run)


def _direction_labels(t: Trajectory, camera: Camera, cfg: LabelConfig) -> list[str]:
    forward = camera.ground_forward()
    right = np.array([forward[1], -forward[0]])
    # Pedestrians face where they walk; a standing one keeps its last direction.
    d = np.stack([np.cos(t.heading), np.sin(t.heading)], 1)
    angle = np.arctan2(d @ right, d @ forward)  # 0: away, +90°: left to right
    sectors = sticky_sectors(
        angle, [0.0, np.pi / 2, np.pi, -np.pi / 2], np.radians(cfg.direction_margin)
    )
    labels = [DIRECTIONS[s] for s in sectors]
    return absorb_short_runs(labels, cfg.min_run)


def _pedestrian_labels(t: Trajectory, cfg: LabelConfig) -> list[str]:
    if t.category != "pedestrian":
        return [""] * len(t.frames)
    moving = hysteresis_states(t.speed, 0.4, 0.15)
    raw = [
        "crossing the road" if c else ("walking on the sidewalk" if m else "")
        for c, m in zip(t.on_crossing, moving, strict=True)
    ]
    return absorb_short_runs(raw, cfg.min_run)


def _position_labels(
    t: Trajectory, camera: Camera, cfg: LabelConfig
) -> tuple[list[str], list[str]]:
    if len(t.box_frames) == 0:
        return [], []
    w, h = camera.width, camera.height
    offset = (t.box_cx - w / 2) / w
    right = hysteresis_states(offset, cfg.left_right_band, -cfg.left_right_band)
    near = hysteresis_states(t.box_bottom / h, cfg.near_enter, cfg.near_leave)
    side = absorb_short_runs(["on the right" if r else "on the left" for r in right], cfg.min_run)
    depth = absorb_short_runs(["near" if n else "far" for n in near], cfg.min_run)
    return side, depth


def auto_intervals(
    trajectories: Iterable[Trajectory], camera: Camera, cfg: LabelConfig
) -> list[AutoInterval]:
    """All automatic intervals of a video, restricted to annotated frames, sorted."""
    out: list[AutoInterval] = []
    for t in trajectories:
        annotated = set(t.box_frames.tolist())
        if not annotated:
            continue
        keep = annotated.__contains__
        per_frame = [
            _motion_labels(t, cfg),
            _manoeuvre_labels(t, cfg),
            _direction_labels(t, camera, cfg),
            _pedestrian_labels(t, cfg),
        ]
        for labels in per_frame:
            for label, start, end in intervals(t.frames, labels, keep):
                out.append(AutoInterval(t.track_id, label, start, end))
        for labels in _position_labels(t, camera, cfg):
            for label, start, end in intervals(t.box_frames, labels):
                out.append(AutoInterval(t.track_id, label, start, end))
    out.sort(key=lambda i: (i.track_id, i.start, i.label))
    return out
