import json

import cv2
import numpy as np
import pytest

from tests.factories import build_small_dataset
from uecity.core.errors import UsageError
from uecity.export import export_dataset
from uecity.formats.refer_kitti import label_line


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
    assert (out / "seqmap.txt").read_text() == "0002+red-cars\n"  # TransRMOT's name, no header


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
    assert (out / "seqmap.txt").is_file()


def test_track_ids_are_global_and_mapped_back(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")  # both videos have native tracks 0, 1, 2
    out = tmp_path / "rk"
    export_dataset(dataset, out, "refer-kitti", workers=1)
    mapping = json.loads((out / "native_ids.json").read_text())["videos"]
    assert mapping["0001"] == {
        "native_video": "0001",
        "fps": 10.0,
        "track_ids": {"0": 0, "1": 1, "2": 2},
    }
    assert mapping["0002"] == {
        "native_video": "0002",
        "fps": 10.0,
        "track_ids": {"0": 3, "1": 4, "2": 5},
    }
    seen = {}
    for video in ("0001", "0002"):
        for label in sorted((out / f"KITTI/labels_with_ids/image_02/{video}").glob("*.txt")):
            for line in label.read_text().splitlines():
                seen.setdefault(int(line.split()[1]), set()).add(video)
    assert sorted(seen) == [0, 1, 2, 3, 4, 5]
    assert all(len(videos) == 1 for videos in seen.values())  # no id in two videos
    native = dataset.video("0002").expressions()[0]
    exported = json.loads((out / "expression/0002/red-cars.json").read_text())
    to_global = {int(k): v for k, v in mapping["0002"]["track_ids"].items()}
    assert exported["label"] == {
        key: [to_global[t] for t in native.label[key]] for key in sorted(native.label, key=int)
    }


def test_refer_kitti_video_names(tmp_path):
    dataset = build_small_dataset(tmp_path / "d", videos=("cam-a", "cam-b"))
    out = tmp_path / "rk"
    export_dataset(dataset, out, "refer-kitti", workers=1, video_names="refer-kitti")
    assert sorted(p.name for p in (out / "KITTI/training/image_02").iterdir()) == ["0000", "0001"]
    assert (out / "seqmap.txt").read_text() == "0001+red-cars\n"
    assert (out / "refer-kitti.train").read_text().splitlines()[0] == (
        "KITTI/training/image_02/0000/000000.png"
    )
    expression = json.loads((out / "expression/0001/red-cars.json").read_text())
    assert expression["video_name"] == "0001"
    mapping = json.loads((out / "native_ids.json").read_text())["videos"]
    assert mapping["0001"]["native_video"] == "cam-b"
    with pytest.raises(UsageError, match="--video-names applies to --format refer-kitti"):
        export_dataset(dataset, tmp_path / "mot", "mot", video_names="refer-kitti")
