"""Reading and writing records as JSON files, with errors that name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from uecity.atomic_write import atomic_write_json
from uecity.errors import DatasetError

RecordT = TypeVar("RecordT", bound=BaseModel)


def format_location(loc: tuple[int | str, ...]) -> str:
    """`('objects', 3, 'track_id')` → `objects[3].track_id`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def describe_validation_error(error: ValidationError) -> list[tuple[str, str]]:
    """(field location, what is wrong) for each problem pydantic found."""
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        if item["type"] not in {"missing", "model_type"} and "input" in item:
            shown = repr(item["input"])
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        problems.append((format_location(tuple(item["loc"])), message))
    return problems


def load_json(path: Path) -> object:
    """Parse a JSON file; a missing or malformed file raises `DatasetError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError("file is missing", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read the file: {error}", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}", path=path
        ) from None


def parse_record(path: Path, data: object, model: type[RecordT]) -> RecordT:
    """Validate parsed JSON as `model`; problems raise one `DatasetError` listing each field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = describe_validation_error(error)
        lines = "; ".join(f"{loc}: {msg}" for loc, msg in problems)
        raise DatasetError(
            f"not a valid {model.__name__}: {lines}", path=path, field=problems[0][0]
        ) from None


def read_record(path: Path, model: type[RecordT]) -> RecordT:
    """Read a JSON record file as `model`."""
    return parse_record(path, load_json(path), model)


def write_record(path: Path, record: BaseModel) -> None:
    """Write a record as JSON, atomically (fields in declaration order, so bytes are stable)."""
    atomic_write_json(path, record.model_dump(mode="json"))
