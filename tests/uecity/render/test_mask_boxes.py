"""Mask → boxes on hand-made masks: exclusive edges, visibility, truncation, colour masks."""

from __future__ import annotations

import numpy as np
import pytest

from uecity.camera import Camera
from uecity.render.mask_boxes import (
    BACKGROUND,
    VisibleBoxes,
    amodal_box,
    annotate,
    boxes_from_mask,
    decode_colour_mask,
    instance_colour,
    silhouette_pixels,
    truncation,
)


def _mask(h: int = 40, w: int = 60) -> np.ndarray:
    return np.full((h, w), BACKGROUND, np.int32)


@pytest.mark.parametrize("hinted", [False, True])
def test_exclusive_edges(hinted: bool) -> None:
    mask = _mask()
    mask[5:8, 10:20] = 3  # rows 5..7, columns 10..19
    hints = {3: (0, 0, 60, 40)} if hinted else None
    boxes = boxes_from_mask(mask, hints)
    assert boxes.ids.tolist() == [3]
    assert boxes.xyxy.tolist() == [[10.0, 5.0, 20.0, 8.0]]
    assert boxes.pixels.tolist() == [30]


@pytest.mark.parametrize("hinted", [False, True])
def test_empty_mask(hinted: bool) -> None:
    boxes = boxes_from_mask(_mask(), {1: (0, 0, 10, 10)} if hinted else None)
    assert len(boxes) == 0
    assert boxes.xyxy.shape == (0, 4)


def test_single_pixel_and_image_corner() -> None:
    mask = _mask()
    mask[39, 59] = 0
    mask[0, 0] = 1
    boxes = boxes_from_mask(mask)
    assert boxes.ids.tolist() == [0, 1]
    assert boxes.xyxy.tolist() == [[59, 39, 60, 40], [0, 0, 1, 1]]


def test_full_pass_and_hinted_pass_agree() -> None:
    rng = np.random.default_rng(1)
    mask = _mask(80, 120)
    rects = {}
    for iid in range(6):
        x, y = rng.integers(0, 100), rng.integers(0, 60)
        w, h = rng.integers(1, 20), rng.integers(1, 20)
        mask[y : y + h, x : x + w] = iid
        rects[iid] = (int(x) - 1, int(y) - 1, int(x + w) + 1, int(y + h) + 1)
    a, b = boxes_from_mask(mask), boxes_from_mask(mask, rects)
    # Later rectangles may hide earlier ones completely: compare what is present.
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.pixels, b.pixels)


def test_occlusion_visibility_and_filter() -> None:
    mask = _mask()
    mask[10:20, 10:30] = 0  # 200 px object, later partly hidden
    mask[10:20, 20:30] = 1  # object 1 in front covers half of object 0
    visible = boxes_from_mask(mask)
    amodal = {0: np.array([10.0, 10.0, 30.0, 20.0]), 1: np.array([20.0, 10.0, 30.0, 20.0])}
    unoccluded = {0: 200, 1: 100}
    rows = annotate(visible, amodal, unoccluded, 60, 40, min_visibility=0.0, min_pixels=1, frame=7)
    assert rows.frame.tolist() == [7, 7] and rows.track_id.tolist() == [0, 1]
    assert rows.visibility[0] == pytest.approx(0.5)
    assert rows.xyxy[0].tolist() == [10.0, 10.0, 20.0, 20.0]  # tight visible extent
    assert rows.amodal_xyxy is not None
    assert rows.amodal_xyxy[0].tolist() == [10.0, 10.0, 30.0, 20.0]
    assert rows.visibility[1] == pytest.approx(1.0)
    rows = annotate(visible, amodal, unoccluded, 60, 40, min_visibility=0.6, min_pixels=1)
    assert rows.track_id.tolist() == [1]
    rows = annotate(visible, amodal, unoccluded, 60, 40, min_visibility=0.0, min_pixels=100)
    assert rows.track_id.tolist() == [0, 1]  # 100 visible pixels each
    assert (
        len(annotate(visible, amodal, unoccluded, 60, 40, min_visibility=0.0, min_pixels=101)) == 0
    )


def test_truncation() -> None:
    assert truncation(np.array([10.0, 10.0, 20.0, 20.0]), 60, 40) == 0.0
    assert truncation(np.array([-10.0, 0.0, 10.0, 10.0]), 60, 40) == pytest.approx(0.5)
    assert truncation(np.array([50.0, 30.0, 70.0, 50.0]), 60, 40) == pytest.approx(0.75)
    assert truncation(np.array([100.0, 100.0, 110.0, 110.0]), 60, 40) == 1.0
    assert truncation(np.array([5.0, 5.0, 5.0, 9.0]), 60, 40) == 1.0


def test_annotate_empty() -> None:
    empty = annotate(VisibleBoxes.empty(), {}, {}, 60, 40, 0.1, 1)
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4) and empty.amodal_xyxy is not None


def test_colour_mask_with_noise_decodes_like_unrealcv() -> None:
    rng = np.random.default_rng(2)
    ids = _mask(50, 70)
    ids[5:15, 5:25] = 0
    ids[20:40, 30:60] = 7
    ids[25:30, 10:20] = 12
    colours = {i: instance_colour(i) for i in (0, 7, 12)}
    image = np.zeros((50, 70, 3), np.int32)
    for i, rgb in colours.items():
        image[ids == i] = rgb
    image = np.clip(image + rng.integers(-3, 4, size=image.shape), 0, 255).astype(np.uint8)
    image[ids == BACKGROUND] = 0
    decoded = decode_colour_mask(image, colours, tolerance=3)
    np.testing.assert_array_equal(decoded, ids)
    boxes = boxes_from_mask(decoded)
    assert boxes.ids.tolist() == [0, 7, 12]
    assert boxes.xyxy[1].tolist() == [30, 20, 60, 40]


def test_instance_colours_are_far_apart() -> None:
    colours = np.array([instance_colour(i) for i in range(600)])
    assert len({tuple(c) for c in colours.tolist()}) == 600
    diff = np.abs(colours[:, None, :] - colours[None, :, :]).max(axis=2)
    np.fill_diagonal(diff, 255)
    assert diff.min() >= 16
    assert (colours.max(axis=1) > 0).all()  # never the background black


def test_amodal_box_and_silhouette_of_a_cube() -> None:
    cam = Camera.from_fov(200, 100, 90.0, (0.0, 0.0, 0.0), 0.0, 0.0)
    corners = np.array([[x, y, z] for x in (9.0, 11.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    box = amodal_box(cam, corners)
    assert box is not None
    # f = 100 px; the near face (x=9) spans ±1 m → ±11.1 px around the centre.
    np.testing.assert_allclose(box, [100 - 100 / 9, 50 - 100 / 9, 100 + 100 / 9, 50 + 100 / 9])
    # OpenCV fills boundary pixels too: within a pixel row/column of the exact area.
    assert silhouette_pixels(cam, corners) == pytest.approx((200 / 9) ** 2, rel=0.2)
    behind = corners - (20.0, 0.0, 0.0)
    assert amodal_box(cam, behind) is None
    straddling = corners - (10.0, 0.0, 0.0)
    clipped = amodal_box(cam, straddling)
    assert clipped is not None and clipped[2] - clipped[0] > 200  # reaches far beyond the image


@pytest.mark.parametrize("palette", ["lattice", "spread", "close"])
def test_colour_decoding_equals_one_pass_per_colour(palette: str) -> None:
    import cv2

    rng = np.random.default_rng(3)
    truth = np.full((90, 160), BACKGROUND, np.int32)
    for i in range(30):
        x, y = rng.integers(0, 140), rng.integers(0, 75)
        truth[y : y + rng.integers(3, 15), x : x + rng.integers(3, 20)] = i
    colours = {i: instance_colour(i) for i in range(30)}  # the lattice path
    if palette == "spread":  # off the lattice, far apart: the colour-bin path
        colours = {i: tuple(c + 1 for c in rgb) for i, rgb in colours.items()}
    if palette == "close":  # tolerance cubes sharing a colour bin: one pass per colour
        colours[0], colours[1] = (200, 201, 202), (205, 201, 202)
    image = np.zeros((90, 160, 3), np.uint8)
    for i, rgb in colours.items():
        image[truth == i] = rgb
    noise = rng.integers(-3, 4, image.shape) * (truth[..., None] >= 0)
    image = np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)
    expected = np.full(truth.shape, BACKGROUND, np.int32)
    for i, rgb in sorted(colours.items()):
        lo = np.array([max(c - 3, 0) for c in rgb], np.uint8)
        hi = np.array([min(c + 3, 255) for c in rgb], np.uint8)
        expected[cv2.inRange(image, lo, hi) > 0] = i
    np.testing.assert_array_equal(decode_colour_mask(image, colours, tolerance=3), expected)
    if palette != "close":
        np.testing.assert_array_equal(expected, truth)


def test_colour_decoding_in_regions_reads_each_colour_inside_its_rectangle_only() -> None:
    rng = np.random.default_rng(4)
    truth = np.full((90, 160), BACKGROUND, np.int32)
    rects = {}
    for i in range(12):
        x, y = int(rng.integers(0, 140)), int(rng.integers(0, 75))
        w, h = int(rng.integers(3, 20)), int(rng.integers(3, 15))
        truth[y : y + h, x : x + w] = i
        rects[i] = (x - 1, y - 1, x + w + 1, y + h + 1)
    colours = {i: instance_colour(i) for i in range(12)}
    image = np.zeros((90, 160, 3), np.uint8)
    for i, rgb in colours.items():
        image[truth == i] = rgb
    image[0:5, 0:5] = colours[3]  # a stray patch of id 3's colour, outside its rectangle
    rects[3] = (-10, -10, 5, 3)  # ... partly inside this one, which also reaches off the image
    rects.pop(7)  # no rectangle: id 7 is not looked for
    full = decode_colour_mask(image, colours, tolerance=3)
    expected = np.full(truth.shape, BACKGROUND, np.int32)
    for i, (x0, y0, x1, y1) in rects.items():
        y0, x0 = max(y0, 0), max(x0, 0)
        inside = expected[y0:y1, x0:x1]
        inside[full[y0:y1, x0:x1] == i] = i
    decoded = decode_colour_mask(image, colours, tolerance=3, regions=rects)
    np.testing.assert_array_equal(decoded, expected)
    assert (decoded == 7).sum() == 0 and (decoded[0:3, 0:5] == 3).all()
