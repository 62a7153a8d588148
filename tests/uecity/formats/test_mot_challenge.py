"""MOTChallenge lines, sequence names and seqmaps: hand-computed lines, exact round trips, and
malformed input named by file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uecity.core.errors import DatasetError
from uecity.formats.mot_challenge import (
    box_lines,
    number_text,
    parse_lines,
    read_seqmap,
    seqmap_text,
    sequence_name,
    split_sequence_name,
)


def test_box_lines_are_one_based_xywh_at_full_precision() -> None:
    lines = box_lines(0, [4, 9], [[10, 20, 30, 60], [0.1, 1 / 3, 5.5, 9]])
    assert lines == [
        "1,4,10,20,20,40,1,1,1\n",  # frame 0 is line frame 1; xyxy (10,20,30,60) is w 20, h 40
        f"1,9,0.1,{1 / 3!r},5.4,{9 - 1 / 3!r},1,1,1\n",
    ]
    assert box_lines(5, [], np.zeros((0, 4))) == []
    scored = box_lines(2, [1], [[0, 0, 2, 2]], [[0.98765, 0.5]], column_format=".4f")
    assert scored == ["3,1,0,0,2,2,0.9877,0.5000\n"]


def test_lines_read_back_exactly() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, (50, 2))
    xyxy = np.concatenate((xy, xy + rng.uniform(1, 200, (50, 2))), axis=1)
    text = "".join(box_lines(7, np.arange(50), xyxy))
    rows = parse_lines(text, "x.txt", num_frames=8)
    assert (rows.frames == 7).all() and rows.ids.tolist() == list(range(50))
    # what was written is what comes back (x + w may differ from x2 in the last bit only)
    np.testing.assert_allclose(rows.boxes_xyxy, xyxy, rtol=0, atol=1e-12)
    assert float(number_text(xyxy[3, 0])) == xyxy[3, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,1,0,0,5,5,1,1,1\n1,1,0,0\n", r"x\.txt:2: expected MOTChallenge"),
        ("1,1,a,0,5,5\n", r"x\.txt:1: expected MOTChallenge"),
        ("1.5,1,0,0,5,5\n", r"x\.txt:1: frame and id must be integers"),
        ("0,1,0,0,5,5\n", r"x\.txt:1: frame 0 is outside the video \(1\.\.6, 1-based\)"),
        ("7,1,0,0,5,5\n", r"x\.txt:1: frame 7 is outside"),
        ("1,1,0,0,5,5,1,1\n2,1,0,0,5,5,1\n", r"x\.txt:2: expected 8 values, got 7"),
    ],
)
def test_malformed_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_lines(text, "x.txt", num_frames=6)


def test_sequence_names() -> None:
    assert sequence_name("0005", "cars-in-black") == "0005+cars-in-black"
    assert split_sequence_name("0005+cars, in black+more") == ("0005", "cars, in black+more")
    for bad in ("0005", "+cars", "0005+"):
        with pytest.raises(ValueError):
            split_sequence_name(bad)
    with pytest.raises(ValueError):
        sequence_name("a+b", "c")


def test_seqmaps_with_and_without_a_header(tmp_path: Path) -> None:
    path = tmp_path / "seqmap.txt"
    assert seqmap_text(["0005+a", "0011+b, c"], header=False) == "0005+a\n0011+b, c\n"
    for header in (False, True):
        path.write_text(seqmap_text(["0005+a", "0011+b, c"], header=header))
        assert read_seqmap(path) == [("0005", "a"), ("0011", "b, c")]  # never split on commas
    path.write_text("0005+a\n\n0011 b\n")
    with pytest.raises(DatasetError, match=r"seqmap\.txt:3: expected `<video>\+<expression>`"):
        read_seqmap(path)
    with pytest.raises(DatasetError, match="seqmap not found"):
        read_seqmap(tmp_path / "nothing.txt")
