"""`schemas/` is in sync with the models, and real records validate against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.factories import build_small_dataset
from uecity.schemas import SCHEMA_FILES, stale_schemas, write_schemas

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_checked_in_schemas_match_the_models() -> None:
    assert stale_schemas(REPO_SCHEMAS) == [], "run `uecity schemas` and commit schemas/"
    assert sorted(p.name for p in REPO_SCHEMAS.glob("*.json")) == sorted(SCHEMA_FILES)


def test_a_changed_schema_is_detected(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    path = tmp_path / "motion.schema.json"
    path.write_text(path.read_text().replace('"revision"', '"rev"'))
    assert stale_schemas(tmp_path) == ["motion.schema.json"]


@pytest.mark.parametrize(
    ("schema", "relative"),
    [
        ("dataset.schema.json", "dataset.json"),
        ("video.schema.json", "videos/0001/video.json"),
        ("objects.schema.json", "videos/0001/objects.json"),
        ("motion.schema.json", "videos/0001/motion.json"),
        ("expression.schema.json", "expressions/0001/red-cars.json"),
    ],
)
def test_written_records_satisfy_their_schema(tmp_path: Path, schema: str, relative: str) -> None:
    build_small_dataset(tmp_path / "d")
    document = json.loads((REPO_SCHEMAS / schema).read_text())
    record = json.loads((tmp_path / "d" / relative).read_text())
    jsonschema.validate(record, document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record, "unexpected": 1}, document)


def test_box_rows_satisfy_their_schema(tmp_path: Path) -> None:
    dataset = build_small_dataset(tmp_path / "d")
    document = json.loads((REPO_SCHEMAS / "box-row.schema.json").read_text())
    for row in dataset.video("0001").boxes().to_arrow().to_pylist():
        jsonschema.validate({k: v for k, v in row.items() if v is not None}, document)
