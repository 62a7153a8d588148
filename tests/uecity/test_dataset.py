"""Opening, reading and writing datasets: refusals, frame iteration, atomicity, revisions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.factories import NUM_FRAMES, build_small_dataset
from uecity.core.atomic import atomic_write_json, remove_temporaries
from uecity.core.errors import DatasetError, RevisionConflict
from uecity.dataset import Dataset
from uecity.records import MotionInterval


@pytest.fixture()
def dataset(tmp_path: Path) -> Dataset:
    return build_small_dataset(tmp_path / "data")


def test_open_lists_videos_and_splits(dataset: Dataset) -> None:
    opened = Dataset.open(dataset.root)
    assert opened.videos == ["0001", "0002"]
    assert opened.split("test") == ["0002"]
    with pytest.raises(DatasetError, match="no split 'val'"):
        opened.split("val")
    with pytest.raises(DatasetError, match=r"no video '0007'.*0001, 0002"):
        opened.video("0007")


def test_other_format_version_is_refused(dataset: Dataset) -> None:
    path = dataset.root / "dataset.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(dict(data, format_version="2.0")))
    with pytest.raises(DatasetError, match=r"format version '2\.0' is not the '1\.0'") as caught:
        Dataset.open(dataset.root)
    assert caught.value.field == "format_version"


@pytest.mark.parametrize("content", [None, "not a dataset"])
def test_open_refuses_what_is_not_a_dataset(tmp_path: Path, content: str | None) -> None:
    if content:
        (tmp_path / "notes.txt").write_text(content)
    with pytest.raises(DatasetError, match=r"no dataset\.json"):
        Dataset.open(tmp_path)
    with pytest.raises(DatasetError, match="no such dataset folder"):
        Dataset.open(tmp_path / "missing")


def test_create_refuses_a_foreign_non_empty_folder(tmp_path: Path, dataset: Dataset) -> None:
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="not empty and is not a UE-City dataset"):
        Dataset.create(tmp_path / "foreign", dataset.manifest)
    assert (tmp_path / "foreign" / "thesis.tex").read_text() == "precious"
    with pytest.raises(DatasetError, match="already exists"):
        Dataset.create(dataset.root, dataset.manifest)
    Dataset.create(dataset.root, dataset.manifest, exist_ok=True)


def test_frames_carry_their_boxes(dataset: Dataset) -> None:
    frames = list(dataset.video("0001").frames())
    assert [f.index for f in frames] == list(range(NUM_FRAMES))
    assert frames[0].image_path.name == "000000.png"
    assert frames[0].boxes.track_id.tolist() == [0, 1]
    assert frames[4].boxes.track_id.tolist() == [0, 2]
    np.testing.assert_allclose(frames[4].boxes.xyxy[0], [6, 4, 24, 16])
    assert frames[4].boxes.truncation[1] == pytest.approx(0.25)


def test_frames_without_boxes_are_empty_not_missing(dataset: Dataset) -> None:
    video = dataset.video("0002")
    boxes = video.boxes()
    video.write_boxes(boxes[boxes.frame != 2])
    frames = list(video.frames())
    assert len(frames) == NUM_FRAMES and len(frames[2].boxes) == 0
    assert frames[2].boxes.xyxy.shape == (0, 4)


def test_boxes_are_written_sorted_and_reproducibly(dataset: Dataset) -> None:
    video = dataset.video("0001")
    boxes = video.boxes()
    before = video.boxes_path.read_bytes()
    video.write_boxes(boxes[np.random.default_rng(3).permutation(len(boxes))])
    assert video.boxes_path.read_bytes() == before


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = dataset.video("0001")
    before = video.objects_path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        video.write_objects(video.objects()[:1])
    assert video.objects_path.read_bytes() == before
    assert [p.name for p in video.folder.iterdir() if p.name.startswith(".")] == []


def test_leftover_temporaries_are_swept(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a.json", {"a": 1})
    leftover = tmp_path / "sub" / ".b.json.uecity-tmp-x1.json"
    leftover.parent.mkdir()
    leftover.write_text("{")
    assert remove_temporaries(tmp_path) == [leftover]
    assert (tmp_path / "a.json").exists()


def test_motion_saves_count_revisions_and_refuse_stale_ones(dataset: Dataset) -> None:
    video = dataset.video("0001")
    loaded = video.motion()
    assert loaded.revision == 1
    edit = [
        *loaded.intervals,
        MotionInterval(
            track_id=0, label="turning left", start=1, end=3, source="manual", author="ann"
        ),
    ]
    saved = video.write_motion(edit, base_revision=loaded.revision)
    assert saved.revision == 2 and video.motion() == saved
    with pytest.raises(RevisionConflict, match="your revision 1, saved revision 2"):
        video.write_motion(loaded.intervals, base_revision=loaded.revision)
    assert video.motion() == saved


def test_video_without_motion_file_has_no_intervals(dataset: Dataset) -> None:
    video = dataset.video("0002")
    video.motion_path.unlink()
    assert video.motion().intervals == [] and video.motion().revision == 0


def test_reading_a_broken_record_names_file_and_field(dataset: Dataset) -> None:
    video = dataset.video("0001")
    video.info_path.write_text(video.info_path.read_text().replace('"fps": 10.0', '"fps": -1'))
    with pytest.raises(DatasetError, match=r"video.json \[fps\]: not a valid VideoInfo"):
        Dataset.open(dataset.root).video("0001").info  # noqa: B018


def test_expression_path_and_content_must_agree(dataset: Dataset) -> None:
    video = dataset.video("0001")
    (video.expressions_folder / "red-cars.json").rename(video.expressions_folder / "other.json")
    with pytest.raises(DatasetError, match="its path says 'other'"):
        video.expression("other")


def test_written_files_get_the_usual_permissions_not_private_ones(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
