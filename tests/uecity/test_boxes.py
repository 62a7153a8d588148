"""`VideoBoxes`: validation, indexing, per-frame slices, the empty case, Parquet round trips."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from uecity.boxes import VideoBoxes
from uecity.core.errors import DatasetError
from uecity.records.boxes import BOX_SCHEMA


def _boxes(n: int, *, amodal: bool = True) -> VideoBoxes:
    """`n` boxes spread over frames 0, 0, 1, 3, 3, ... (frame 2 has none), tracks ascending."""
    frame = np.array([0, 0, 1, 3, 3, 3][:n], np.int64)
    xyxy = np.array([[k, k, k + 10.5, k + 20.25] for k in range(n)], np.float64).reshape(-1, 4)
    return VideoBoxes(
        frame=frame,
        track_id=np.arange(n),
        xyxy=xyxy,
        visibility=np.linspace(0.5, 1.0, n),
        truncation=np.zeros(n),
        amodal_xyxy=xyxy - 1 if amodal else None,
    )


@pytest.mark.parametrize("n", [0, 1, 6])
def test_construction_coerces_and_fills(n: int) -> None:
    boxes = VideoBoxes(frame=list(range(n)), track_id=[0] * n, xyxy=[[0, 0, 1, 1]] * n)
    assert len(boxes) == n and boxes.xyxy.shape == (n, 4) and boxes.xyxy.dtype == np.float64
    assert boxes.frame.dtype == np.int64 and boxes.track_id.dtype == np.int64
    assert boxes.visibility.dtype == np.float32 and (boxes.visibility == 1).all()
    assert boxes.truncation.dtype == np.float32 and (boxes.truncation == 0).all()
    assert boxes.amodal_xyxy is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"track_id": [0]}, "track_id has shape (1,), expected (2,)"),
        ({"xyxy": [[0, 0, 1, 1]]}, "xyxy has shape (1, 4), expected (2, 4)"),
        ({"xyxy": [[0, 0, 1], [0, 0, 1]]}, "xyxy has shape (2, 3)"),
        ({"visibility": [1.0, 1.0, 1.0]}, "visibility has shape (3,)"),
        ({"amodal_xyxy": [[0, 0, 1, 1]]}, "amodal_xyxy has shape (1, 4)"),
    ],
)
def test_mismatched_arrays_are_refused(changes: dict, message: str) -> None:
    arrays = {"frame": [0, 1], "track_id": [0, 0], "xyxy": [[0, 0, 1, 1], [0, 0, 2, 2]]}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        VideoBoxes(**{**arrays, **changes})


@pytest.mark.parametrize("n", [0, 1, 6])
def test_indexing_by_mask_indices_slice_and_int(n: int) -> None:
    boxes = _boxes(n)
    mask = boxes.frame == 3
    assert len(boxes[mask]) == int(mask.sum())
    assert boxes[mask].amodal_xyxy is not None and boxes[mask].amodal_xyxy.shape == (mask.sum(), 4)
    assert len(boxes[::2]) == len(range(0, n, 2))
    assert len(boxes[np.arange(n)[::-1]]) == n
    if n:
        one = boxes[n - 1]
        assert len(one) == 1 and one.xyxy[0].tolist() == boxes.xyxy[-1].tolist()


@pytest.mark.parametrize("n", [0, 1, 6])
def test_per_frame_slices_include_empty_frames(n: int) -> None:
    boxes = _boxes(n)
    frames = list(boxes.by_frame(5))
    assert [f for f, _ in frames] == [0, 1, 2, 3, 4]
    assert sum(len(b) for _, b in frames) == n
    assert len(frames[2][1]) == 0 and frames[2][1].xyxy.shape == (0, 4)
    for frame, of_frame in frames:
        assert (of_frame.frame == frame).all()
        assert of_frame.track_id.tolist() == boxes.of_frame(frame).track_id.tolist()
    offsets = boxes.frame_offsets(5)
    assert offsets[0] == 0 and offsets[-1] == n


def test_unsorted_rows_are_sliced_by_frame_after_sorting() -> None:
    boxes = _boxes(6)[np.array([5, 0, 3, 1, 4, 2])]
    with pytest.raises(ValueError, match="sorted by frame"):
        boxes.frame_offsets(4)
    assert [len(b) for _, b in boxes.by_frame(4)] == [2, 1, 0, 3]
    assert boxes.sorted().frame_track_pairs() == _boxes(6).frame_track_pairs()


def test_concatenate_keeps_amodal_only_when_every_part_has_it() -> None:
    both = VideoBoxes.concatenate([_boxes(2), _boxes(3)])
    assert len(both) == 5 and both.amodal_xyxy is not None
    assert VideoBoxes.concatenate([_boxes(2), _boxes(3, amodal=False)]).amodal_xyxy is None
    assert len(VideoBoxes.concatenate([])) == 0


@pytest.mark.parametrize("amodal", [True, False])
@pytest.mark.parametrize("n", [0, 1, 6])
def test_parquet_table_round_trip(n: int, amodal: bool) -> None:
    boxes = _boxes(n, amodal=amodal)
    table = boxes.to_arrow()
    assert table.schema.names == [f.name for f in BOX_SCHEMA][: 12 if amodal else 8]
    assert table.schema.field("frame").type == pa.int32()
    back = VideoBoxes.from_arrow(table)
    for name in ("frame", "track_id", "xyxy", "visibility", "truncation"):
        np.testing.assert_array_equal(getattr(back, name), getattr(boxes, name))
    assert (back.amodal_xyxy is None) == (not amodal)


def test_a_box_without_an_amodal_box_is_a_null_row() -> None:
    boxes = _boxes(2)
    amodal = boxes.amodal_xyxy.copy()  # type: ignore[union-attr]
    amodal[1] = np.nan
    table = VideoBoxes(**{**_arrays(boxes), "amodal_xyxy": amodal}).to_arrow()
    assert table.column("amodal_x1").null_count == 1 and table.column("x1").null_count == 0
    back = VideoBoxes.from_arrow(table)
    assert np.isnan(back.amodal_xyxy[1]).all()  # type: ignore[index]


def test_reading_refuses_nulls_and_bad_columns() -> None:
    table = _boxes(2).to_arrow()
    nulls = table.set_column(2, "x1", pa.array([1.0, None]))
    with pytest.raises(DatasetError, match="column 'x1' has 1 null value"):
        VideoBoxes.from_arrow(nulls)
    assert np.isnan(VideoBoxes.from_arrow(nulls, nulls_as_nan=True).xyxy[1, 0])
    with pytest.raises(DatasetError, match="column 'visibility' is missing"):
        VideoBoxes.from_arrow(table.drop_columns(["visibility"]))
    with pytest.raises(DatasetError, match="must come all 4 or none"):
        VideoBoxes.from_arrow(table.drop_columns(["amodal_x1"]))


def test_writing_refuses_ids_beyond_the_file_types() -> None:
    boxes = VideoBoxes(frame=[2**40], track_id=[0], xyxy=[[0, 0, 1, 1]])
    with pytest.raises(pa.ArrowInvalid):
        boxes.to_arrow()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"xyxy": [[0, np.nan, 4, 4]]}, "NaN or infinite"),
        ({"xyxy": [[5, 0, 4, 4]]}, "inverted"),
        ({"xyxy": [[4, 0, 4, 4]]}, "empty"),
        ({"xyxy": [[0, 0, 70, 4]]}, "outside the 64x48 image"),
        ({"visibility": [1.5]}, "visibility outside 0..1"),
        ({"truncation": [-0.1]}, "truncation outside 0..1"),
        ({"track_id": [-1]}, "negative track id"),
        ({"frame": [9]}, "frame outside the video's range 0..4"),
    ],
)
def test_problems_name_each_bad_value(row: dict, message: str) -> None:
    good = {"frame": [0], "track_id": [0], "xyxy": [[0, 0, 4, 4]]}
    problems = VideoBoxes(**{**good, **row}).problems(64, 48, 5)
    assert [m for _, m in problems if message in m], problems
    assert VideoBoxes(**good).problems(64, 48, 5) == []
    assert VideoBoxes.empty().problems(64, 48, 5) == []


def test_problems_name_a_second_box_of_a_track_at_a_frame() -> None:
    boxes = VideoBoxes(frame=[1, 1], track_id=[3, 3], xyxy=[[0, 0, 4, 4]] * 2)
    ((rows, message),) = boxes.problems(64, 48, 5)
    assert rows.tolist() == [False, True] and "second box" in message


def _arrays(boxes: VideoBoxes) -> dict[str, np.ndarray | None]:
    return {
        name: getattr(boxes, name)
        for name in ("frame", "track_id", "xyxy", "visibility", "truncation", "amodal_xyxy")
    }
