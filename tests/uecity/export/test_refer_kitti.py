import json

import cv2
import numpy as np
import pytest

from tests.factories import build_small_dataset
from uecity.core.errors import UsageError
from uecity.export import export_dataset
from uecity.export.refer_kitti import label_line


def test_label_line_hand_computed():
    # Box x 2..20, y 4..16 in a 64x48 image: x1/W=0.03125, y1/H=0.083333, w/W=0.28125, h/H=0.25
    assert label_line(3, np.array([2 / 64, 4 / 48, 18 / 64, 12 / 48])) == (
        "0 3 0.031250 0.083333 0.281250 0.250000\n"
    )


def test_exact_tree(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")  # 0001 png (train), 0002 jpg (test)
    out = tmp_path / "rk"
    summary = export_dataset(dataset, out, "refer-kitti", workers=2)
    assert summary.written > 0
    for video in ("0001", "0002"):
        for frame in range(5):
            image = out / f"KITTI/training/image_02/{video}/{frame:06d}.png"
            assert image.read_bytes().startswith(b"\x89PNG")
            assert (out / f"KITTI/labels_with_ids/image_02/{video}/{frame:06d}.txt").is_file()
    decoded = cv2.imread(str(out / "KITTI/training/image_02/0002/000000.png"))
    assert decoded.shape == (48, 64, 3)
    # Frame 0 of the factory: track 0 at (2, 4, 20, 16), track 1 at (30, 10, 50, 30).
    assert (out / "KITTI/labels_with_ids/image_02/0001/000000.txt").read_text() == (
        "0 0 0.031250 0.083333 0.281250 0.250000\n0 1 0.468750 0.208333 0.312500 0.416667\n"
    )
    expression = json.loads((out / "expression/0001/red-cars.json").read_text())
    assert list(expression) == ["label", "ignore", "video_name", "sentence"]
    assert expression["label"]["0"] == [0] and expression["video_name"] == "0001"
    assert (out / "refer-kitti.train").read_text().splitlines() == [
        f"KITTI/training/image_02/0001/{f:06d}.png" for f in range(5)
    ]
    assert (out / "seqmap").read_text() == "0002+red-cars\n"


def test_rerun_skips_up_to_date_files(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    out = tmp_path / "rk"
    first = export_dataset(dataset, out, "refer-kitti", workers=1)
    image = out / "KITTI/training/image_02/0002/000003.png"
    stamp = image.stat().st_mtime_ns
    again = export_dataset(dataset, out, "refer-kitti", workers=1)
    assert again.written == 0 and again.skipped == first.written
    assert image.stat().st_mtime_ns == stamp
    (out / "expression/0001/red-cars.json").unlink()
    third = export_dataset(dataset, out, "refer-kitti", workers=1)
    assert third.written == 1


def test_non_empty_foreign_folder_is_refused(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a UE-City export"):
        export_dataset(dataset, out, "refer-kitti")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    export_dataset(dataset, out, "refer-kitti", force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "seqmap").is_file()
