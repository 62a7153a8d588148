"""Typed files: YAML and JSON read into validated pydantic models, with one error format.

`load_record(path, Model)` is the one loader of the product's input and record files (scene
specs, vocabularies, asset catalogs, train configs, dataset records): the file is parsed (JSON
by its `.json` name, YAML strictly otherwise: no duplicate keys, UTF-8 only) and validated as
`Model`. Every problem raises the caller's `UECityError` class in one format,
`file[:line:column] [first field]: not a valid <what>: field: problem; field: problem`, where
YAML says the line. `validate_record` does the same for data already parsed (a request body,
command-line values); `write_record` is the writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from uecity.core.atomic import atomic_write_json
from uecity.core.errors import DatasetError, SpecError, UECityError

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
        # a validator's own ValueError arrives as "Value error, <its message>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] not in {"missing", "model_type"} and "input" in item:
            shown = repr(item["input"])
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        problems.append((format_location(tuple(item["loc"])), message))
    return problems


def validation_message(error: ValidationError) -> tuple[str, str]:
    """(the first field, every problem as `field: problem; field: problem`): the one text of
    a validation failure."""
    problems = describe_validation_error(error)
    return problems[0][0], "; ".join(f"{loc}: {msg}" for loc, msg in problems)


def validate_record(
    data: object,
    model: type[RecordT],
    *,
    path: Path | None = None,
    error: type[UECityError] = SpecError,
    what: str | None = None,
) -> RecordT:
    """Validate parsed data as `model`; problems raise one `error` listing each field."""
    try:
        return model.model_validate(data)
    except ValidationError as problem:
        field, text = validation_message(problem)
        raise error(
            f"not a valid {what or model.__name__}: {text}", path=path, field=field
        ) from None


def load_json(path: Path, *, error: type[UECityError] = DatasetError) -> object:
    """Parse a JSON file; a missing or malformed file raises `error` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file is missing", path=path) from None
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"cannot read the file: {problem}", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(
            f"malformed JSON at line {problem.lineno}, column {problem.colno}: {problem.msg}",
            path=path,
        ) from None


def load_record(
    path: str | Path,
    model: type[RecordT],
    *,
    error: type[UECityError] = SpecError,
    what: str | None = None,
    empty: object = None,
) -> RecordT:
    """Read a JSON (`.json`) or YAML file as `model`. A missing, unreadable or malformed file,
    or one that does not validate, raises `error` naming the file (and the first bad field);
    an empty YAML file is read as `empty` (None: as it is)."""
    path = Path(path)
    if path.suffix == ".json":
        data = load_json(path, error=error)
    else:
        data = load_yaml(path, error=error, what=what or "file")
        if data is None and empty is not None:
            data = empty
    return validate_record(data, model, path=path, error=error, what=what)


def read_record(path: Path, model: type[RecordT]) -> RecordT:
    """Read a dataset's JSON record file as `model` (problems are `DatasetError`s)."""
    return load_record(path, model, error=DatasetError)


def write_record(path: Path, record: BaseModel) -> None:
    """Write a record as JSON, atomically (fields in declaration order, so bytes are stable)."""
    atomic_write_json(path, record.model_dump(mode="json"))


class _StrictYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    keeps the last one silently, so a typo'd copy of a setting would win without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: construct_mapping reports it
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, *, error: type[UECityError] = SpecError, what: str = "file") -> Any:
    """Parse a UTF-8 YAML file strictly (no duplicate keys). A missing, unreadable, non-UTF-8 or
    malformed file raises `error` naming it, with `file:line:column` where YAML says where."""
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise error(f"cannot read the {what}: {problem.strerror}", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        raise error(
            f"not UTF-8 text (byte 0x{data[problem.start]:02x} at offset {problem.start}); "
            f"save the {what} as UTF-8",
            path=path,
            line=line,
        ) from None
    try:
        return yaml.load(text, Loader=_StrictYamlLoader)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        message = (
            " ".join(part for part in (problem.context, problem.problem) if part)
            or "malformed YAML"
        )
        raise error(
            f"invalid YAML: {message}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as problem:
        raise error(f"invalid YAML: {problem}", path=path) from None
