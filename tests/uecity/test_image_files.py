"""Frame files: sizes from headers, truncation detection, deterministic encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uecity.image_files import ImageFileProblem, encode_image, image_size_wh


@pytest.mark.parametrize("image_format", ["jpg", "png"])
@pytest.mark.parametrize(("width", "height"), [(1, 1), (64, 48), (1280, 720)])
def test_size_read_from_header(tmp_path: Path, image_format: str, width: int, height: int) -> None:
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    path = tmp_path / f"f.{image_format}"
    path.write_bytes(encode_image(image, image_format))
    assert image_size_wh(path) == (width, height)
    assert encode_image(image, image_format) == path.read_bytes()


@pytest.mark.parametrize("image_format", ["jpg", "png"])
def test_truncated_files_are_detected(tmp_path: Path, image_format: str) -> None:
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    path = tmp_path / f"f.{image_format}"
    data = encode_image(image, image_format)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileProblem, match="truncated"):
        image_size_wh(path)
    path.write_bytes(data[:20])
    with pytest.raises(ImageFileProblem, match="truncated"):
        image_size_wh(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"GIF89a....", "not a PNG or JPEG"), (None, "missing")],
)
def test_other_bad_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "f.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageFileProblem, match=message):
        image_size_wh(path)
