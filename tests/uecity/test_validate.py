"""Every corruption class `uecity validate` must catch, each planted in a freshly built dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import as_video_boxes, box_rows, build_small_dataset
from uecity.records import REQUIRED_BOX_COLUMNS
from uecity.validate import validate_dataset

V1 = Path("videos/0001")
V2 = Path("videos/0002")
RAW_BOX_SCHEMA = pa.schema(list(REQUIRED_BOX_COLUMNS.items()))


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def write_raw_boxes(root: Path, video: Path, table: pa.Table) -> None:
    pq.write_table(table, root / video / "boxes.parquet")


def boxes_with(**changes: object) -> Callable[[Path], None]:
    """Rewrite video 0001's boxes with row 0's columns changed (bypassing the safe writer)."""

    def corrupt(root: Path) -> None:
        frame = box_rows()
        for column, value in changes.items():
            frame.loc[0, column] = value
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.cast(RAW_BOX_SCHEMA)
        write_raw_boxes(root, V1, table)

    return corrupt


def drop_box_column(root: Path) -> None:
    table = pa.Table.from_pandas(box_rows().drop(columns=["visibility"]), preserve_index=False)
    write_raw_boxes(root, V1, table)


def mistype_box_column(root: Path) -> None:
    frame = box_rows()
    frame["frame"] = frame["frame"].astype(str)
    write_raw_boxes(root, V1, pa.Table.from_pandas(frame, preserve_index=False))


def add_box_of_unknown_track(root: Path) -> None:
    frame = box_rows()
    frame.loc[len(frame)] = [1, 9, 1.0, 1.0, 5.0, 5.0, 1.0, 0.0]
    from uecity.dataset import Dataset

    Dataset.open(root).video("0001").write_boxes(as_video_boxes(frame))


def remove_track_boxes(root: Path) -> None:
    from uecity.dataset import Dataset

    frame = box_rows()
    Dataset.open(root).video("0001").write_boxes(as_video_boxes(frame[frame.track_id != 2]))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (corrupt(root), expected path in the problem, expected words in the problem)
    "malformed JSON": (
        lambda r: (r / V1 / "objects.json").write_text('{"objects": [ }'),
        "videos/0001/objects.json",
        "malformed JSON at line 1",
    ),
    "wrong field type": (
        lambda r: edit_json(r / V1 / "video.json", lambda d: d.update(fps="fast")),
        "videos/0001/video.json: fps:",
        "valid number",
    ),
    "unknown field": (
        lambda r: edit_json(r / V1 / "objects.json", lambda d: d["objects"][0].update(colr=1)),
        "videos/0001/objects.json: objects[0].colr:",
        "Extra inputs are not permitted",
    ),
    "missing frame file": (
        lambda r: (r / V1 / "frames/000002.png").unlink(),
        "videos/0001/frames/000002.png",
        "frame file is missing",
    ),
    "truncated frame file": (
        lambda r: (r / V2 / "frames/000001.jpg").write_bytes(
            (r / V2 / "frames/000001.jpg").read_bytes()[:-200]
        ),
        "videos/0002/frames/000001.jpg",
        "truncated",
    ),
    "frame file of garbage": (
        lambda r: (r / V1 / "frames/000003.png").write_bytes(b"hello"),
        "videos/0001/frames/000003.png",
        "not a PNG or JPEG",
    ),
    "frame of the wrong size": (
        lambda r: edit_json(r / V1 / "video.json", lambda d: d.update(width=80)),
        "videos/0001/frames",
        "image is 64x48, video.json says 80x48",
    ),
    "frame file beyond the video": (
        lambda r: (r / V1 / "frames/000009.png").write_bytes(
            (r / V1 / "frames/000000.png").read_bytes()
        ),
        "videos/0001/frames/000009.png",
        "outside the video's range",
    ),
    "missing Parquet column": (
        drop_box_column,
        "videos/0001/boxes.parquet",
        "column 'visibility' is missing",
    ),
    "mistyped Parquet column": (
        mistype_box_column,
        "videos/0001/boxes.parquet",
        "column 'frame' has type large_string, expected an integer",
    ),
    "unreadable Parquet": (
        lambda r: (r / V1 / "boxes.parquet").write_bytes(b"PAR1 not really"),
        "videos/0001/boxes.parquet",
        "not a readable Parquet file",
    ),
    "inverted box": (
        boxes_with(x2=1.0),
        "videos/0001/boxes.parquet: row 0 (frame 0, track 0)",
        "inverted",
    ),
    "empty box": (
        boxes_with(y2=4.0),
        "videos/0001/boxes.parquet: row 0 (frame 0, track 0)",
        "empty",
    ),
    "box outside the image": (
        boxes_with(x2=64.5),
        "videos/0001/boxes.parquet: row 0",
        "outside the 64x48 image",
    ),
    "NaN box": (boxes_with(y1=float("nan")), "videos/0001/boxes.parquet: row 0", "NaN"),
    "visibility above 1": (
        boxes_with(visibility=1.5),
        "videos/0001/boxes.parquet: row 0",
        "visibility outside",
    ),
    "frame out of range": (
        boxes_with(frame=7),
        "videos/0001/boxes.parquet: row 0 (frame 7",
        "frame outside the video's range 0..4",
    ),
    "duplicate box": (
        boxes_with(track_id=1, frame=0),
        "videos/0001/boxes.parquet",
        "second box for the same",
    ),
    "track in boxes not in objects": (
        add_box_of_unknown_track,
        "videos/0001/boxes.parquet: track 9",
        "no entry in objects",
    ),
    "object without boxes": (
        remove_track_boxes,
        "videos/0001/objects.json: track 2",
        "has no box",
    ),
    "motion interval past the video": (
        lambda r: edit_json(r / V1 / "motion.json", lambda d: d["intervals"][0].update(end=9)),
        "videos/0001/motion.json: intervals[0]",
        "past the video's last frame 4",
    ),
    "motion interval on unknown track": (
        lambda r: edit_json(r / V1 / "motion.json", lambda d: d["intervals"][1].update(track_id=5)),
        "videos/0001/motion.json: intervals[1] (track 5",
        "not in objects.json",
    ),
    "motion interval ending before it starts": (
        lambda r: edit_json(r / V1 / "motion.json", lambda d: d["intervals"][1].update(start=3)),
        "videos/0001/motion.json: intervals[1]",
        "ends (frame 2) before it starts (3)",
    ),
    "overlapping motion intervals": (
        lambda r: edit_json(
            r / V1 / "motion.json",
            lambda d: d["intervals"].append(dict(d["intervals"][0], start=2, end=3)),
        ),
        "videos/0001/motion.json: intervals[2]",
        "overlaps intervals[0]",
    ),
    "unknown motion label": (
        lambda r: edit_json(
            r / V1 / "motion.json", lambda d: d["intervals"][0].update(label="flying")
        ),
        "videos/0001/motion.json: intervals[0]",
        "not in the dataset vocabulary",
    ),
    "motion interval past its track's life": (  # track 1 has boxes on frames 0-2
        lambda r: edit_json(r / V1 / "motion.json", lambda d: d["intervals"][1].update(end=3)),
        "videos/0001/motion.json: intervals[1] (track 1, 'stopped')",
        "interval 0..3 reaches past the track's life (boxes on frames 0..2)",
    ),
    "referent absent at its frame": (
        lambda r: edit_json(
            r / "expressions/0001/red-cars.json", lambda d: d["label"].update({"4": [0, 1]})
        ),
        "expressions/0001/red-cars.json: label:",
        "(frame:track) 4:1",
    ),
    "expression frame out of range": (
        lambda r: edit_json(
            r / "expressions/0002/red-cars.json", lambda d: d["label"].update({"12": [0]})
        ),
        "expressions/0002/red-cars.json: label.12:",
        "outside the video's range",
    ),
    "expression of another video": (
        lambda r: edit_json(
            r / "expressions/0002/red-cars.json", lambda d: d.update(video_name="0001")
        ),
        "expressions/0002/red-cars.json: video_name:",
        "lies under '0002'",
    ),
    "padded frame key": (
        lambda r: edit_json(
            r / "expressions/0002/red-cars.json", lambda d: d["label"].update({"03": [0]})
        ),
        "expressions/0002/red-cars.json: label:",
        "not an unpadded",
    ),
    "listed video without folder": (
        lambda r: edit_json(r / "dataset.json", lambda d: d["videos"].append("0003")),
        "videos/0003",
        "folder is missing",
    ),
    "unlisted video folder": (
        lambda r: (r / "videos/0009").mkdir(),
        "videos/0009",
        "not listed in dataset.json",
    ),
    "split naming an unknown video": (
        lambda r: edit_json(r / "dataset.json", lambda d: d["splits"].update(val=["0042"])),
        "dataset.json",
        "split 'val' names videos not in 'videos'",
    ),
    "other format version": (
        lambda r: edit_json(r / "dataset.json", lambda d: d.update(format_version="0.3")),
        "dataset.json: format_version:",
        "format version '0.3'",
    ),
}


@pytest.fixture()
def dataset_root(tmp_path: Path) -> Path:
    build_small_dataset(tmp_path / "data")
    return tmp_path / "data"


def test_clean_dataset_has_no_problems(dataset_root: Path) -> None:
    report = validate_dataset(dataset_root)
    assert report.problems == []
    assert (report.videos, report.frames, report.boxes, report.expressions) == (2, 10, 20, 2)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_named_with_file_and_location(dataset_root: Path, name: str) -> None:
    corrupt, where, what = CORRUPTIONS[name]
    corrupt(dataset_root)
    problems = [str(p) for p in validate_dataset(dataset_root).problems]
    assert any(p.startswith(where) and what in p for p in problems), problems


def test_every_problem_is_reported_not_only_the_first(dataset_root: Path) -> None:
    for name in ("missing frame file", "inverted box", "referent absent at its frame"):
        CORRUPTIONS[name][0](dataset_root)
    problems = [str(p) for p in validate_dataset(dataset_root).problems]
    assert len(problems) >= 3
    assert any("frame file is missing" in p for p in problems)
    assert any("inverted" in p for p in problems)
    assert any("4:1" in p for p in problems)


def test_consecutive_missing_frames_are_grouped(dataset_root: Path) -> None:
    for frame in range(1, 5):
        (dataset_root / V1 / f"frames/{frame:06d}.png").unlink()
    problems = [str(p) for p in validate_dataset(dataset_root).problems]
    assert problems == ["videos/0001/frames: frames 000001.png..000004.png: frame file is missing"]


def test_many_bad_rows_are_counted_after_the_first_few(dataset_root: Path) -> None:
    from uecity import validate

    frame = box_rows()
    frame = frame.loc[frame.index.repeat(3)].reset_index(drop=True)
    frame["x2"] = 100.0
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False).cast(RAW_BOX_SCHEMA),
        dataset_root / V1 / "boxes.parquet",
    )
    problems = [str(p) for p in validate_dataset(dataset_root).problems if "outside" in str(p)]
    assert len(problems) == validate.ROWS_SHOWN_PER_CHECK + 1
    assert problems[-1].endswith(f"{len(frame) - validate.ROWS_SHOWN_PER_CHECK} more rows")


def test_not_a_dataset(tmp_path: Path) -> None:
    problems = [str(p) for p in validate_dataset(tmp_path).problems]
    assert problems == ["dataset.json: file is missing: this folder is not a UE-City dataset"]
