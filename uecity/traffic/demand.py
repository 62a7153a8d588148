"""Demand: the vehicles, pedestrians and parked cars of one video, drawn from the video's rng.

Everything random about who appears (arrival times, routes, types, colours, sizes of
pedestrians) is decided here, in Python, from the video's `numpy.random.Generator`, and written
as a SUMO route file; SUMO then only drives. The same facts are returned as `ActorSpec`s, the
ground truth of each actor's appearance and route intent (the automatic language facts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uecity.scene.spec import COLOURS, DemandSpec
from uecity.traffic.network import PARKED_CLASS, Network

#: Body size (length, width, height) in metres and SUMO vehicle class per vehicle type.
VEHICLE_BODIES: dict[str, tuple[tuple[float, float, float], str]] = {
    "car": ((4.5, 1.8, 1.45), "passenger"),
    "suv": ((4.8, 1.95, 1.8), "passenger"),
    "van": ((5.3, 2.0, 2.3), "delivery"),
    "bus": ((12.0, 2.55, 3.2), "bus"),
    "truck": ((8.5, 2.5, 3.4), "truck"),
}
PARKED_TYPES = ("car", "suv", "van")
#: Clothing colours of pedestrians, named like vehicle colours.
CLOTHING = ("black", "white", "grey", "red", "blue", "green", "yellow", "brown", "orange")
SKIN_TONES = ((224, 188, 160), (198, 150, 110), (150, 100, 70), (95, 65, 45))


@dataclass(frozen=True)
class ActorSpec:
    """What an actor is, decided before the simulation: the source of automatic attributes."""

    sumo_id: str
    category: str  # vehicle | pedestrian
    type: str  # car, suv, van, bus, truck | adult, child
    colour_name: str | None  # None: never seen (observe mode); SUMO's actors always have one
    colour_rgb: tuple[int, int, int] | None
    size_m: tuple[float, float, float]  # length, width, height
    intent: str | None = None  # left | straight | right (vehicles through the junction)
    parked: bool = False
    secondary_rgb: tuple[int, int, int] = (60, 60, 60)  # trousers of a pedestrian
    skin_rgb: tuple[int, int, int] = (200, 160, 130)
    parked_pose: tuple[float, float, float] | None = None  # x, y, heading in its bay


@dataclass
class Demand:
    """A written route file and the actors it holds."""

    routes_file: Path
    actors: dict[str, ActorSpec]


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _arrivals(rng: np.random.Generator, per_hour: float, duration_s: float) -> np.ndarray:
    if per_hour <= 0:
        return np.zeros(0)
    n = int(rng.poisson(per_hour * duration_s / 3600.0))
    return np.sort(rng.uniform(0.0, duration_s, n))


def _vtypes() -> list[str]:
    lines = []
    for name, ((length, width, height), vclass) in VEHICLE_BODIES.items():
        lines.append(
            f'  <vType id="{name}" vClass="{vclass}" length="{length}" width="{width}" '
            f'height="{height}" minGap="2.0" sigma="0.5" speedDev="0.1"/>'
        )
        if name in PARKED_TYPES:
            lines.append(
                f'  <vType id="{name}_parked" vClass="{PARKED_CLASS}" length="{length}" '
                f'width="{width}" height="{height}"/>'
            )
    lines.append('  <vType id="ped" vClass="pedestrian" speed="1.3" speedDev="0.15"/>')
    return lines


def build_demand(
    spec: DemandSpec,
    network: Network,
    duration_s: float,
    folder: Path,
    rng: np.random.Generator,
) -> Demand:
    """Draw the demand of one video and write it as `folder/demand.rou.xml`."""
    template = network.template
    arms = [network.arms[a.name] for a in template.arms]
    turns = spec.turn_ratios
    turn_weight = {"left": turns.left, "straight": turns.straight, "right": turns.right}
    shares = {k: v.share for k, v in spec.mix.items() if v.share > 0}
    actors: dict[str, ActorSpec] = {}
    entries: list[tuple[float, str, str]] = []  # (depart, sort key, xml)

    vehicle_times = _arrivals(rng, spec.vehicles_per_hour if shares else 0.0, duration_s)
    for i, depart in enumerate(vehicle_times):
        origin = arms[int(rng.integers(len(arms)))]
        options = {}
        for dest in arms:
            turn = template.turn(origin.arm, dest.arm)
            if turn is not None and turn_weight[turn] > 0:
                options[dest.arm.name] = turn_weight[turn]
        if not options:
            continue
        dest = network.arms[_choose(rng, options)]
        vtype = _choose(rng, shares)
        colour = _choose(rng, spec.mix[vtype].colours)
        vid = f"v{i:05d}"
        size, _ = VEHICLE_BODIES[vtype]
        actors[vid] = ActorSpec(
            vid,
            "vehicle",
            vtype,
            colour,
            COLOURS[colour],
            size,
            intent=template.turn(origin.arm, dest.arm),
        )
        route = " ".join((*origin.incoming, dest.outgoing))
        entries.append(
            (
                float(depart),
                vid,
                f'  <vehicle id="{vid}" type="{vtype}" depart="{depart:.2f}" departLane="best" '
                f'departSpeed="max"><route edges="{route}"/></vehicle>',
            )
        )

    # Parked vehicles: one per 6.5 m slot of a curbside parking lane, parked from the start.
    slots = [(bay, k) for bay in network.parking for k in range(bay.capacity)]
    n_parked = min(spec.parked_vehicles, len(slots))
    chosen = sorted(rng.choice(len(slots), size=n_parked, replace=False)) if n_parked else []
    for j, slot_index in enumerate(chosen):
        bay, k = slots[int(slot_index)]
        vtype = PARKED_TYPES[int(rng.integers(len(PARKED_TYPES)))]
        colour = _choose(rng, spec.mix[vtype].colours if vtype in spec.mix else {"grey": 1.0})
        vid = f"p{j:03d}"
        size, _ = VEHICLE_BODIES[vtype]
        edge, lane_index = bay.lane.rsplit("_", 1)
        end = bay.start + 6.5 * (k + 1) - (6.5 - size[0]) / 2
        actors[vid] = ActorSpec(
            vid,
            "vehicle",
            vtype,
            colour,
            COLOURS[colour],
            size,
            parked=True,
            parked_pose=bay.pose_at(end - size[0] / 2),
        )
        entries.append(
            (
                0.0,
                vid,
                f'  <vehicle id="{vid}" type="{vtype}_parked" depart="0.00" '
                f'departLane="{lane_index}" departPos="{end:.2f}" departSpeed="0">'
                f'<route edges="{edge}"/><stop lane="{bay.lane}" endPos="{end:.2f}" '
                f'parking="true" duration="1000000"/></vehicle>',
            )
        )

    ped_times = _arrivals(
        rng, spec.pedestrians_per_hour if network.has_sidewalks else 0.0, duration_s
    )
    for i, depart in enumerate(ped_times):
        origin = arms[int(rng.integers(len(arms)))]
        crossing = rng.random() < spec.crossing_share
        others = [a for a in arms if a is not origin]
        if crossing and others:
            dest = others[int(rng.integers(len(others)))]
            walk = (origin.incoming[0], dest.outgoing)
        else:
            right = [d for d in arms if template.turn(origin.arm, d.arm) == "right"]
            walk = (origin.incoming[0], right[0].outgoing) if right else (origin.outgoing,) * 2
        child = rng.random() < 0.12
        height = float(rng.uniform(1.1, 1.4) if child else rng.uniform(1.55, 1.9))
        top = CLOTHING[int(rng.integers(len(CLOTHING)))]
        bottom = CLOTHING[int(rng.integers(len(CLOTHING)))]
        skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
        pid = f"h{i:05d}"
        actors[pid] = ActorSpec(
            pid,
            "pedestrian",
            "child" if child else "adult",
            top,
            COLOURS[top],
            (0.35, 0.5 if not child else 0.4, round(height, 2)),
            secondary_rgb=COLOURS[bottom],
            skin_rgb=skin,
        )
        start = float(rng.uniform(0.0, 40.0))
        entries.append(
            (
                float(depart),
                pid,
                f'  <person id="{pid}" type="ped" depart="{depart:.2f}" departPos="{start:.1f}">'
                f'<walk from="{walk[0]}" to="{walk[1]}"/></person>',
            )
        )

    entries.sort(key=lambda e: (e[0], e[1]))
    path = folder / "demand.rou.xml"
    body = _vtypes() + [xml for _, _, xml in entries]
    path.write_text("<routes>\n" + "\n".join(body) + "\n</routes>\n")
    return Demand(path, actors)
