"""A synthetic scene for the Unreal bridge's tests and benchmark: actors driving on rings
around the junction, seen by one camera on a pole. No SUMO needed, fully deterministic."""

from __future__ import annotations

import math

from uecity.camera import Camera, look_at_pose
from uecity.traffic.demand import ActorSpec
from uecity.traffic.simulation import ActorState, WorldState

TYPES = [
    ("vehicle", "car", (4.5, 1.8, 1.45)),
    ("vehicle", "bus", (12.0, 2.55, 3.2)),
    ("vehicle", "van", (5.3, 2.0, 2.3)),
    ("vehicle", "suv", (4.8, 1.95, 1.75)),
    ("pedestrian", "adult", (0.35, 0.5, 1.75)),
]


def ring_camera(width: int = 320, height: int = 180) -> Camera:
    position = (32.0, -28.0, 11.0)
    yaw, pitch = look_at_pose(position, (0.0, 0.0, 0.0))
    return Camera.from_fov(width, height, 75.0, position, yaw, pitch)


def ring_worlds(frames: int, actors: int) -> list[WorldState]:
    """Actors on three rings around the junction, each driving along its ring."""
    out = []
    for frame in range(frames):
        states = []
        for k in range(actors):
            category, kind, size = TYPES[k % len(TYPES)]
            angle = 2 * math.pi * k / actors + 0.02 * frame
            radius = 8.0 + 14.0 * (k % 3)
            spec = ActorSpec(f"a{k}", category, kind, "red", (180, 30 + 3 * k % 200, 40), size)
            x, y = radius * math.cos(angle), radius * math.sin(angle)
            heading = angle + math.pi / 2
            states.append(ActorState(f"a{k}", spec, x, y, 0.0, heading, 5.0, 0.0, "e"))
        out.append(WorldState(frame, frame / 10, tuple(states)))
    return out


def instance_ids(worlds: list[WorldState]) -> dict[str, int]:
    """Instance ids in order of first appearance."""
    ids: dict[str, int] = {}
    for world in worlds:
        for actor in world.actors:
            ids.setdefault(actor.sumo_id, len(ids))
    return ids
