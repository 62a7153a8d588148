import numpy as np
import pytest

from uecity.core.box_formats import (
    cxcywh_normalised_to_xyxy,
    mot_xywh_to_xyxy,
    refer_kitti_x1y1wh_normalised_to_xyxy,
    xyxy_to_cxcywh_normalised,
    xyxy_to_mot_xywh,
    xyxy_to_refer_kitti_x1y1wh_normalised,
)


def test_hand_computed_box():
    # Columns 10..19 and rows 20..59 of a 100x80 image: x1=10, x2=20 (exclusive edges).
    xyxy = np.array([[10.0, 20.0, 20.0, 60.0]])
    np.testing.assert_allclose(xyxy_to_mot_xywh(xyxy), [[10, 20, 10, 40]])
    np.testing.assert_allclose(
        xyxy_to_refer_kitti_x1y1wh_normalised(xyxy, 100, 80), [[0.1, 0.25, 0.1, 0.5]]
    )
    np.testing.assert_allclose(xyxy_to_cxcywh_normalised(xyxy, 100, 80), [[0.15, 0.5, 0.1, 0.5]])


@pytest.mark.parametrize("count", [0, 1, 7])
def test_round_trips(count):
    rng = np.random.default_rng(count)
    xy = rng.uniform(0, 50, (count, 2))
    xyxy = np.concatenate([xy, xy + rng.uniform(1, 50, (count, 2))], axis=1)
    np.testing.assert_allclose(mot_xywh_to_xyxy(xyxy_to_mot_xywh(xyxy)), xyxy)
    np.testing.assert_allclose(
        refer_kitti_x1y1wh_normalised_to_xyxy(
            xyxy_to_refer_kitti_x1y1wh_normalised(xyxy, 640, 480), 640, 480
        ),
        xyxy,
    )
    np.testing.assert_allclose(
        cxcywh_normalised_to_xyxy(xyxy_to_cxcywh_normalised(xyxy, 640, 480), 640, 480), xyxy
    )
    assert xyxy_to_mot_xywh(xyxy).shape == (count, 4)
