"""SUMO world ↔ Unreal: both ways, on hand-checked directions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uecity.unreal import coordinates as co

angles = st.floats(-179.0, 180.0)
metres = st.floats(-1e4, 1e4, allow_nan=False)


@pytest.mark.parametrize(
    ("world", "unreal"),
    [
        ((1.0, 0.0, 0.0), (100.0, 0.0, 0.0)),  # east is Unreal +X
        ((0.0, 1.0, 0.0), (0.0, -100.0, 0.0)),  # north is Unreal -Y
        ((0.0, 0.0, 2.5), (0.0, 0.0, 250.0)),  # up is up, in centimetres
    ],
)
def test_locations(world: tuple, unreal: tuple) -> None:
    assert co.world_to_unreal_location(*world) == pytest.approx(unreal)
    assert co.unreal_to_world_location(*unreal) == pytest.approx(world)


@pytest.mark.parametrize(
    ("heading", "yaw"),
    [(0.0, 0.0), (90.0, -90.0), (-90.0, 90.0), (180.0, 180.0), (45.0, -45.0), (270.0, 90.0)],
)
def test_headings(heading: float, yaw: float) -> None:
    # A car heading north (90° CCW from east) points to Unreal -Y, which is yaw -90.
    assert co.heading_to_unreal_yaw(heading) == pytest.approx(yaw)


def test_a_heading_points_where_the_location_mapping_says() -> None:
    for heading in range(-180, 180, 15):
        h = math.radians(heading)
        tip = co.world_to_unreal_location(math.cos(h), math.sin(h), 0.0)
        yaw = math.radians(co.heading_to_unreal_yaw(heading))
        # Unreal's forward vector for a yaw: (cos yaw, sin yaw, 0) in X, Y.
        assert (math.cos(yaw) * 100, math.sin(yaw) * 100) == pytest.approx(tip[:2], abs=1e-9)


@given(x=metres, y=metres, z=metres)
def test_locations_round_trip(x: float, y: float, z: float) -> None:
    back = co.unreal_to_world_location(*co.world_to_unreal_location(x, y, z))
    assert back == pytest.approx((x, y, z))


@given(yaw=angles, pitch=st.floats(-90, 90), roll=angles)
def test_camera_rotation_round_trips(yaw: float, pitch: float, roll: float) -> None:
    pitch_u, yaw_u, roll_u = co.camera_to_unreal_rotation(yaw, pitch, roll)
    assert pitch_u == pitch
    assert co.unreal_to_camera_rotation(pitch_u, yaw_u, roll_u) == pytest.approx(
        (yaw, pitch, roll), abs=1e-9
    )


def test_field_of_view() -> None:
    assert co.horizontal_fov_deg(640.0, 1280) == pytest.approx(90.0)
    assert co.focal_from_horizontal_fov(90.0, 1280) == pytest.approx(640.0)
    f = co.focal_from_horizontal_fov(63.0, 1920)
    assert co.horizontal_fov_deg(f, 1920) == pytest.approx(63.0)
