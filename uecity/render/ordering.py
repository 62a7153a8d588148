"""Exact drawing order of actors standing on the ground (a painter's algorithm that is right).

Every actor is contained in the vertical prism over its footprint rectangle. Two disjoint
footprints have a separating line (separating-axis theorem on rectangles), and the vertical
plane through it separates the two prisms: the actor on the camera's side of that plane is in
front wherever the two overlap on screen. Ordering only the pairs whose screen rectangles
overlap and sorting topologically (far first) gives correct occlusion without a z-buffer. Pairs
whose footprints intersect (SUMO lets pedestrians brush past each other) fall back to distance.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from uecity.traffic.simulation import ActorState


def footprint(actor: ActorState) -> np.ndarray:
    """(4, 2) corners of the actor's footprint rectangle on the ground."""
    length, width, _ = actor.spec.size_m
    c, s = math.cos(actor.heading), math.sin(actor.heading)
    fx, fy = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
    centre = np.array([actor.x, actor.y])
    return np.array([centre + fx + fy, centre - fx + fy, centre - fx - fy, centre + fx - fy])


def front_of_pair(a: np.ndarray, b: np.ndarray, eye_xy: np.ndarray) -> int | None:
    """0 if footprint `a` is in front of `b` seen from `eye_xy`, 1 if `b` is, None if they meet."""
    for rect in (a, b):
        for k in range(2):
            edge = rect[k + 1] - rect[k]
            n = np.array([-edge[1], edge[0]])
            pa, pb = a @ n, b @ n
            if pa.max() <= pb.min():
                return 0 if eye_xy @ n < (pa.max() + pb.min()) / 2 else 1
            if pb.max() <= pa.min():
                return 1 if eye_xy @ n < (pb.max() + pa.min()) / 2 else 0
    return None


def draw_order(
    actors: list[ActorState], overlapping: list[tuple[int, int]], eye: np.ndarray
) -> list[int]:
    """Indices of `actors` far to near, exact for every pair in `overlapping`."""
    n = len(actors)
    eye_xy = eye[:2]
    distance = [
        math.hypot(a.x - eye[0], a.y - eye[1], a.z + a.spec.size_m[2] / 2 - eye[2]) for a in actors
    ]
    feet = {}
    after: list[list[int]] = [[] for _ in range(n)]  # after[i]: drawn after i (in front of it)
    blockers = [0] * n
    for i, j in overlapping:
        fi = feet.setdefault(i, footprint(actors[i]))
        fj = feet.setdefault(j, footprint(actors[j]))
        front = front_of_pair(fi, fj, eye_xy)
        if front is None:
            front = 0 if distance[i] < distance[j] else 1
        back_k, front_k = (j, i) if front == 0 else (i, j)
        after[back_k].append(front_k)
        blockers[front_k] += 1
    ready = [(-distance[i], i) for i in range(n) if blockers[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    placed = [False] * n
    while len(order) < n:
        if not ready:  # a cycle (not possible for disjoint prisms): break it by distance
            k = max((i for i in range(n) if not placed[i]), key=lambda i: distance[i])
            blockers[k] = 0
            ready.append((-distance[k], k))
        _, k = heapq.heappop(ready)
        if placed[k]:
            continue
        placed[k] = True
        order.append(k)
        for m in after[k]:
            blockers[m] -= 1
            if blockers[m] == 0 and not placed[m]:
                heapq.heappush(ready, (-distance[m], m))
    return order
