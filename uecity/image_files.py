"""Frame image files: encoding, and cheap integrity checks that read only headers and trailers.

`uecity validate` must check thousands of frames quickly, so it reads a PNG's IHDR chunk or a
JPEG's start-of-frame marker for the size and checks the file's trailer for truncation, rather
than decoding every pixel.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from uecity.core.errors import UECityError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def encode_image(image_bgr: np.ndarray, image_format: str, *, jpeg_quality: int = 92) -> bytes:
    """Encode an 8-bit BGR image as `jpg` or `png` bytes (deterministic for the same input)."""
    if image_format == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    elif image_format == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    else:
        raise UECityError(f"unknown image format '{image_format}' (expected jpg or png)")
    ok, buffer = cv2.imencode(f".{image_format}", image_bgr, params)
    if not ok:
        raise UECityError(f"OpenCV could not encode a {image_bgr.shape} image as {image_format}")
    return buffer.tobytes()


class ImageFileProblem(Exception):
    """What is wrong with a frame file (the message is shown to the user)."""


HEAD_BYTES = 1 << 16  # the size markers of our frames sit well inside the first 64 KiB
TAIL_BYTES = 16


def _png_size(data: bytes, tail: bytes) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ImageFileProblem("PNG header is truncated")
    width, height = struct.unpack(">II", data[16:24])
    if not tail.endswith(b"IEND\xaeB`\x82"):
        raise ImageFileProblem("PNG file is truncated (no IEND chunk at the end)")
    return width, height


def _jpeg_size(data: bytes, tail: bytes) -> tuple[int, int]:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ImageFileProblem(f"JPEG marker expected at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in JPEG_SOF_MARKERS:
            if position + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            if not tail.endswith(b"\xff\xd9"):
                raise ImageFileProblem("JPEG file is truncated (no end-of-image marker)")
            return width, height
        position += 2 + length
    raise ImageFileProblem("JPEG header is truncated (no start-of-frame marker)")


def image_size_wh(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG file from its header; raises `ImageFileProblem`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(HEAD_BYTES)
            handle.seek(max(0, handle.seek(0, 2) - TAIL_BYTES))
            tail = handle.read()
    except FileNotFoundError:
        raise ImageFileProblem("frame file is missing") from None
    except OSError as error:
        raise ImageFileProblem(f"frame file cannot be read: {error}") from None
    if not data:
        raise ImageFileProblem("frame file is empty")
    if data.startswith(PNG_SIGNATURE):
        return _png_size(data, tail)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data, tail)
    raise ImageFileProblem("not a PNG or JPEG file")
