"""The Refer-KITTI layout: paths as TransRMOT derives them, the train list and label files read
back, and malformed files named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from uecity.core.errors import DatasetError
from uecity.formats.refer_kitti import (
    ReferKittiTree,
    image_file,
    label_file,
    native_ids_json,
    read_label_file,
    read_native_fps,
    read_train_list,
    refer_kitti_video_name,
    train_list_text,
)


def test_label_path_is_transrmots_replacement_of_the_image_path() -> None:
    image = image_file("0005", 17)
    assert image == "KITTI/training/image_02/0005/000017.png"
    # TransRMOT: img_path.replace('training', 'labels_with_ids').replace('.png', '.txt')
    assert image.replace("training", "labels_with_ids").replace(".png", ".txt") == label_file(
        "0005", 17
    )
    assert refer_kitti_video_name(5) == "0005"


def test_train_list_round_trip_keeps_frame_order_and_gaps(tmp_path: Path) -> None:
    path = tmp_path / "refer-kitti.train"
    path.write_text(train_list_text([("0001", 0), ("0001", 2), ("0018", 25)]))
    assert read_train_list(path) == {"0001": [0, 2], "0018": [25]}
    path.write_text("/data/refer-kitti/KITTI/training/image_02/0002/000003.png\n")  # a prefix
    assert read_train_list(path) == {"0002": [3]}
    path.write_text("KITTI/training/image_02/0002/000003.png\nKITTI/training/0002/4.png\n")
    with pytest.raises(DatasetError, match=r"refer-kitti\.train:2: expected"):
        read_train_list(path)


def test_label_files(tmp_path: Path) -> None:
    path = tmp_path / "000000.txt"
    path.write_text("0 3 0.1 0.2 0.3 0.4\n\n0 5 0 0 1 1\n")
    ids, boxes = read_label_file(path)
    assert ids.tolist() == [3, 5]
    np.testing.assert_array_equal(boxes, [[0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]])
    path.write_text("0 3 0.1 0.2 0.3 0.4\n0 5 0 0 1\n")
    with pytest.raises(DatasetError, match=r"000000\.txt:2: expected `class id"):
        read_label_file(path)


def test_a_tree_missing_a_folder_is_named(tmp_path: Path) -> None:
    tree = ReferKittiTree(tmp_path)
    tree.image_root.mkdir(parents=True)
    tree.expression_root.mkdir()
    with pytest.raises(DatasetError, match=r"KITTI/labels_with_ids/image_02/ is missing"):
        tree.check()


def test_native_ids_file_carries_the_frame_rate(tmp_path: Path) -> None:
    path = tmp_path / "native_ids.json"
    assert read_native_fps(path) == {}  # the original Refer-KITTI has no such file
    data = native_ids_json({"0000": ("cam-a", {3: 0}, 12.5), "0001": ("cam-b", {}, 10.0)})
    path.write_text(json.dumps(data))
    assert read_native_fps(path) == {"0000": 12.5, "0001": 10.0}
    data["videos"]["0001"]["fps"] = "fast"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="fps must be a positive number"):
        read_native_fps(path)
