"""Visibility order of actors and the sim renderer's image + mask on a hand-placed scene."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from uecity.camera import Camera
from uecity.render.mask_boxes import boxes_from_mask
from uecity.render.ordering import draw_order, footprint, front_of_pair
from uecity.render.sim import SimRenderer
from uecity.scene.spec import IntersectionSpec
from uecity.traffic.demand import VEHICLE_BODIES, ActorSpec
from uecity.traffic.network import build_network
from uecity.traffic.simulation import ActorState, WorldState


def _vehicle(sid: str, x: float, y: float, heading: float, vtype: str = "car") -> ActorState:
    spec = ActorSpec(sid, "vehicle", vtype, "red", (200, 30, 30), VEHICLE_BODIES[vtype][0])
    return ActorState(sid, spec, x, y, 0.0, heading, 0.0, 0.0, "E_in_1")


def test_front_of_pair_uses_the_separating_line() -> None:
    a = footprint(_vehicle("a", 0.0, 0.0, 0.0))
    b = footprint(_vehicle("b", 10.0, 0.0, 0.0))
    assert front_of_pair(a, b, np.array([-20.0, 0.0])) == 0
    assert front_of_pair(a, b, np.array([30.0, 0.0])) == 1
    assert front_of_pair(a, a + 0.5, np.array([0.0, -30.0])) is None


def test_long_bus_beside_a_car_is_ordered_by_geometry_not_centre_distance() -> None:
    # A bus lies across the view, a car behind its far end: the car's centre is nearer to the eye
    # than the bus's centre, yet the bus is in front of it.
    eye = np.array([0.0, -20.0, 10.0])
    bus = _vehicle("bus", 0.0, 0.0, 0.0, "bus")
    car = _vehicle("car", 5.0, 4.0, 0.0)
    assert math.hypot(car.x - eye[0], car.y - eye[1]) > math.hypot(bus.x, bus.y - eye[1])
    order = draw_order([bus, car], [(0, 1)], eye)
    assert order == [1, 0]  # car first (behind), bus after (in front)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory):
    return build_network(IntersectionSpec(), Path(tmp_path_factory.mktemp("net")))


def test_sim_renderer_occlusion_mask_and_counts(network) -> None:
    camera = Camera.from_fov(320, 180, 60.0, (0.0, -40.0, 8.0), 90.0, -10.0)
    renderer = SimRenderer(camera, network, np.random.default_rng(0))
    near = _vehicle("near", 0.0, -10.0, 0.0, "van")
    far = _vehicle("far", 0.0, 0.0, 0.0, "bus")
    ids = {"near": 0, "far": 1}
    alone = renderer.render(WorldState(0, 0.0, (far,)), {"far": 1})
    both = renderer.render(WorldState(0, 0.0, (near, far)), ids)
    assert both.image_bgr.shape == (180, 320, 3)
    assert set(np.unique(both.instance_mask).tolist()) == {-1, 0, 1}
    # The van hides part of the bus: fewer bus pixels, same unoccluded count as alone.
    boxes = boxes_from_mask(both.instance_mask)
    pixels = dict(zip(boxes.ids.tolist(), boxes.pixels.tolist(), strict=True))
    assert both.unoccluded_pixels[1] == alone.unoccluded_pixels[1]
    assert pixels[1] < both.unoccluded_pixels[1]
    assert pixels[0] == both.unoccluded_pixels[0]
    # The same frame drawn in the other list order gives the same pixels.
    swapped = renderer.render(WorldState(0, 0.0, (far, near)), ids)
    np.testing.assert_array_equal(swapped.instance_mask, both.instance_mask)
    np.testing.assert_array_equal(swapped.image_bgr, both.image_bgr)


def test_actor_behind_the_camera_is_not_drawn(network) -> None:
    camera = Camera.from_fov(320, 180, 60.0, (0.0, -40.0, 8.0), 90.0, -10.0)
    renderer = SimRenderer(camera, network, np.random.default_rng(0))
    behind = _vehicle("b", 0.0, -60.0, 0.0)
    frame = renderer.render(WorldState(0, 0.0, (behind,)), {"b": 0})
    assert (frame.instance_mask == -1).all()
    np.testing.assert_array_equal(frame.image_bgr, renderer.background)
