"""The pinhole camera: projection, its inverse onto the ground, and automatic placement."""

from __future__ import annotations

import numpy as np
import pytest

from uecity.camera import Camera, auto_camera, look_at_pose


@pytest.fixture
def camera() -> Camera:
    return Camera.from_fov(1280, 720, 70.0, (20.0, -15.0, 12.0), 140.0, -25.0, roll_deg=3.0)


def test_rotation_is_orthonormal(camera: Camera) -> None:
    r = camera.rotation()
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_optical_axis_hits_the_principal_point(camera: Camera) -> None:
    r = camera.rotation()
    point = camera.position + 30.0 * r[2]
    uv, depth = camera.project(point[None])
    np.testing.assert_allclose(uv[0], (camera.cx, camera.cy), atol=1e-9)
    assert depth[0] == pytest.approx(30.0)


def test_ground_round_trip(camera: Camera) -> None:
    rng = np.random.default_rng(0)
    uv = rng.uniform((0, 400), (1280, 720), size=(50, 2))
    ground = camera.unproject_to_ground(uv)
    assert np.isfinite(ground).all()
    np.testing.assert_allclose(ground[:, 2], 0.0, atol=1e-9)
    back, depth = camera.project(ground)
    assert (depth > 0).all()
    np.testing.assert_allclose(back, uv, atol=1e-6)


def test_world_round_trip_through_camera_frame(camera: Camera) -> None:
    points = np.array([[0.0, 0.0, 0.0], [5.0, 3.0, 1.5], [-10.0, 8.0, 0.2]])
    cam = camera.world_to_camera(points)
    back = cam @ camera.rotation() + camera.position
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_fov_and_scaling(camera: Camera) -> None:
    assert camera.fov_deg == pytest.approx(70.0)
    half = camera.scaled(0.5)
    assert (half.width, half.height) == (640, 360)
    assert half.fov_deg == pytest.approx(70.0)
    p = np.array([[1.0, 2.0, 0.0]])
    np.testing.assert_allclose(half.project(p)[0], camera.project(p)[0] / 2, atol=1e-9)


def test_image_axes_point_right_and_down() -> None:
    # Looking north, level: east is to the right, up is up the image.
    cam = Camera.from_fov(100, 100, 90.0, (0.0, 0.0, 0.0), 90.0, 0.0)
    uv, _ = cam.project(np.array([[1.0, 10.0, 0.0], [0.0, 10.0, 1.0]]))
    assert uv[0, 0] > 50 and uv[0, 1] == pytest.approx(50)
    assert uv[1, 1] < 50


def test_look_at_and_auto_camera_frame_the_junction() -> None:
    yaw, pitch = look_at_pose((10.0, 10.0, 10.0), (0.0, 0.0, 0.0))
    assert yaw == pytest.approx(-135.0) and pitch < 0
    for seed in range(5):
        cam = auto_camera(
            np.random.default_rng(seed),
            640,
            360,
            10.0,
            [0, 90, 180, 270],
            (10, 15),
            (30, 40),
            (60, 70),
        )
        uv, depth = cam.project(np.zeros((1, 3)))
        assert depth[0] > 0
        assert 0 <= uv[0, 0] < 640 and 0 <= uv[0, 1] < 360
