"""Automatic motion labels on scripted trajectories: the right frames, and no flicker."""

from __future__ import annotations

import math

import numpy as np

from uecity.camera import Camera
from uecity.motion.auto import LabelConfig, Trajectory, auto_intervals
from uecity.motion.hysteresis import absorb_short_runs, hysteresis_states, intervals

FPS = 10.0
# Looking north from the south of the junction, from above.
CAMERA = Camera.from_fov(640, 360, 70.0, (0.0, -40.0, 15.0), 90.0, -20.0, fps=FPS)


def _trajectory(xy: np.ndarray, heading: np.ndarray, speed: np.ndarray, **flags) -> Trajectory:
    n = len(xy)
    frames = np.arange(n)
    uv, _ = CAMERA.project(np.column_stack([xy, np.zeros(n)]))
    return Trajectory(
        track_id=flags.get("track_id", 0),
        category=flags.get("category", "vehicle"),
        frames=frames,
        x=xy[:, 0],
        y=xy[:, 1],
        heading=heading,
        speed=speed,
        parked=flags.get("parked", np.zeros(n, bool)),
        on_junction=flags.get("on_junction", np.zeros(n, bool)),
        on_crossing=flags.get("on_crossing", np.zeros(n, bool)),
        box_frames=frames,
        box_cx=uv[:, 0],
        box_bottom=uv[:, 1],
    )


def _left_turn() -> tuple[Trajectory, range]:
    """North at 5 m/s for 3 s, a 90° left arc of radius 10 m (π s), then west for 3 s."""
    v, r = 5.0, 10.0
    pts, headings, junction = [], [], []
    t = 0.0
    turn_frames = []
    for k in range(int(9.3 * FPS)):
        t = k / FPS
        if t < 3.0:
            x, y, h = 0.0, -15.0 + v * t, math.pi / 2
        elif t < 3.0 + math.pi:
            a = (t - 3.0) * v / r  # angle turned
            x, y, h = -r + r * math.cos(a), r * math.sin(a), math.pi / 2 + a
            turn_frames.append(k)
        else:
            s = (t - 3.0 - math.pi) * v
            x, y, h = -r - s, r, math.pi
        pts.append((x, y))
        headings.append(h)
        junction.append(3.0 <= t < 3.0 + math.pi)
    n = len(pts)
    rng = np.random.default_rng(0)
    heading = np.array(headings) + rng.normal(0, 0.01, n)  # a little sensor-like jitter
    traj = _trajectory(np.array(pts), heading, np.full(n, v), on_junction=np.array(junction))
    return traj, range(turn_frames[0], turn_frames[-1] + 1)


def _labels(intervals_, label):
    return [(i.start, i.end) for i in intervals_ if i.label == label]


def test_left_turn_is_labelled_on_the_turning_frames_without_flicker() -> None:
    traj, turn = _left_turn()
    result = auto_intervals([traj], CAMERA, LabelConfig(fps=FPS))
    left = _labels(result, "turning left")
    assert len(left) == 1, left  # one interval: no flicker
    start, end = left[0]
    # Within a few frames of the true arc (the heading is smoothed).
    assert abs(start - turn.start) <= 4 and abs(end - (turn.stop - 1)) <= 4
    assert _labels(result, "turning right") == []
    assert _labels(result, "going straight") == []
    assert _labels(result, "moving") == [(0, len(traj.frames) - 1)]
    # Heads away from the camera (north), then right to left (west).
    away = _labels(result, "away")
    rtl = _labels(result, "crossing right-to-left")
    assert len(away) == 1 and len(rtl) == 1
    assert away[0][0] == 0 and rtl[0][1] == len(traj.frames) - 1
    assert away[0][1] + 1 == rtl[0][0]


def test_right_turn_mirrors_the_left_turn() -> None:
    traj, _ = _left_turn()
    mirrored = _trajectory(
        np.column_stack([-traj.x, traj.y]),
        math.pi - traj.heading,
        traj.speed,
        on_junction=traj.on_junction,
    )
    result = auto_intervals([mirrored], CAMERA, LabelConfig(fps=FPS))
    assert len(_labels(result, "turning right")) == 1
    assert _labels(result, "turning left") == []


def test_straight_through_the_junction_and_stop_go_hysteresis() -> None:
    n = 80
    y = np.linspace(-20, 20, n)
    speed = np.full(n, 4.0)
    speed[30:50] = 0.0
    # Creeping around the thresholds must not flip the state.
    speed[50:56] = [0.3, 0.5, 0.2, 0.6, 0.7, 0.5]
    junction = np.zeros(n, bool)
    junction[60:75] = True
    traj = _trajectory(
        np.column_stack([np.zeros(n), y]), np.full(n, math.pi / 2), speed, on_junction=junction
    )
    result = auto_intervals([traj], CAMERA, LabelConfig(fps=FPS))
    assert _labels(result, "going straight") == [(60, 74)]
    assert _labels(result, "stopped") == [(30, 55)]
    assert _labels(result, "moving") == [(0, 29), (56, 79)]


def test_parked_and_pedestrian_crossing() -> None:
    n = 40
    parked = _trajectory(
        np.zeros((n, 2)), np.zeros(n), np.zeros(n), parked=np.ones(n, bool), track_id=1
    )
    crossing = np.zeros(n, bool)
    crossing[10:30] = True
    xs = np.linspace(-5, 5, n)
    walker = _trajectory(
        np.column_stack([xs, np.zeros(n)]),
        np.zeros(n),
        np.full(n, 1.3),
        category="pedestrian",
        on_crossing=crossing,
        track_id=2,
    )
    result = auto_intervals([parked, walker], CAMERA, LabelConfig(fps=FPS))
    assert [(i.start, i.end) for i in result if i.track_id == 1 and i.label == "parked"] == [
        (0, 39)
    ]
    ped = [i for i in result if i.track_id == 2]
    assert [(i.start, i.end) for i in ped if i.label == "crossing the road"] == [(10, 29)]
    assert [(i.start, i.end) for i in ped if i.label == "walking on the sidewalk"] == [
        (0, 9),
        (30, 39),
    ]
    assert [(i.start, i.end) for i in ped if i.label == "crossing left-to-right"] == [(0, 39)]
    assert {i.label for i in ped} >= {"on the left", "on the right"}


def test_intervals_break_at_missing_frames() -> None:
    assert intervals([0, 1, 2, 5, 6], ["a", "a", "a", "a", "b"]) == [
        ("a", 0, 2),
        ("a", 5, 5),
        ("b", 6, 6),
    ]
    assert intervals([0, 1, 2], ["a", "", "a"]) == [("a", 0, 0), ("a", 2, 2)]
    assert intervals([0, 1, 2], ["a", "a", "a"], keep=lambda f: f != 1) == [
        ("a", 0, 0),
        ("a", 2, 2),
    ]


def test_hysteresis_helpers() -> None:
    assert hysteresis_states([0, 2, 1.5, 0.9, 0.4, 1.2], enter=1.0, leave=0.5).tolist() == [
        False,
        True,
        True,
        True,
        False,
        True,
    ]
    assert absorb_short_runs(["a"] * 5 + ["b"] * 2 + ["a"] * 5, 3) == ["a"] * 12
    assert absorb_short_runs(["b"] + ["a"] * 5, 3) == ["a"] * 6
