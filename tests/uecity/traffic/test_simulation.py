"""A real SUMO run through libsumo: the network, the demand and the world states it gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uecity.core.errors import ExternalToolError
from uecity.scene.spec import DemandSpec, IntersectionSpec
from uecity.traffic.demand import build_demand
from uecity.traffic.network import build_network
from uecity.traffic.simulation import TrafficSimulation


@pytest.mark.parametrize("template", ["cross4", "tee"])
def test_network_has_the_templates_parts(template: str, tmp_path: Path) -> None:
    net = build_network(IntersectionSpec(template=template), tmp_path)
    assert net.net_file.is_file()
    kinds = {kind for kind, _ in net.surfaces}
    assert kinds == {"road", "sidewalk", "parking", "crossing", "marking"}
    assert len(net.arms) == (4 if template == "cross4" else 3)
    assert net.parking


def test_libsumo_run_gives_moving_parked_and_walking_actors(tmp_path: Path) -> None:
    net = build_network(IntersectionSpec(), tmp_path)
    demand = build_demand(DemandSpec(), net, 120.0, tmp_path, np.random.default_rng(5))
    kinds = {a.category for a in demand.actors.values()}
    assert kinds == {"vehicle", "pedestrian"}
    with TrafficSimulation(net, demand, 10.0, 42, tmp_path) as sim:
        sim.warm_up(40.0)
        worlds = list(sim.frames(50))
    assert [w.frame for w in worlds] == list(range(50))
    last = worlds[-1].actors
    assert any(a.parked for a in last)
    assert any(a.speed > 3 for a in last if a.spec.category == "vehicle")
    assert any(a.spec.category == "pedestrian" for a in last)
    for a in last:  # parked vehicles sit in their bay, in the lane's direction
        if a.parked:
            assert (a.x, a.y) == pytest.approx(a.spec.parked_pose[:2])
    # Moving actors move consistently with their speed and heading.
    by_id = {a.sumo_id: a for a in worlds[-2].actors}
    for a in last:
        b = by_id.get(a.sumo_id)
        if b is not None and a.spec.category == "vehicle" and not a.parked and b.speed > 2:
            step = np.hypot(a.x - b.x, a.y - b.y)
            assert step == pytest.approx(a.speed * 0.1, abs=0.3)


def test_same_seed_same_traffic(tmp_path: Path) -> None:
    net = build_network(IntersectionSpec(template="tee"), tmp_path)
    runs = []
    for _ in range(2):
        demand = build_demand(DemandSpec(), net, 60.0, tmp_path, np.random.default_rng(9))
        with TrafficSimulation(net, demand, 10.0, 7, tmp_path) as sim:
            sim.warm_up(10.0)
            runs.append([(a.sumo_id, a.x, a.y) for w in sim.frames(20) for a in w.actors])
    assert runs[0] == runs[1]


def test_sumo_errors_surface_with_sumos_message(tmp_path: Path) -> None:
    net = build_network(IntersectionSpec(), tmp_path)
    demand = build_demand(DemandSpec(), net, 30.0, tmp_path, np.random.default_rng(0))
    demand.routes_file.write_text(
        '<routes><vehicle id="x" depart="0"><route edges="nowhere"/></vehicle></routes>'
    )
    with (
        pytest.raises(ExternalToolError, match="nowhere"),
        TrafficSimulation(net, demand, 10.0, 1, tmp_path),
    ):
        pass
