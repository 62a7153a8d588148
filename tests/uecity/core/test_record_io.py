"""The one typed loader: YAML or JSON into a pydantic model, every problem in one format that
names the file and the first field; and the one progress event."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from uecity.core.errors import DatasetError, SpecError
from uecity.core.progress import ProgressEvent
from uecity.core.record_io import load_record, validate_record


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    steps: int = Field(ge=1)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_yaml_and_json_files_load_into_the_model(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"settings{suffix}"
    path.write_text('{"name": "a", "steps": 3}')
    assert load_record(path, Settings) == Settings(name="a", steps=3)


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("name: a\nsteps: 0\nextra: 1\n", ".yaml", "[steps]: not a valid settings file: steps:"),
        ("name: a\nname: b\n", ".yaml", ":2:1: invalid YAML: duplicate key 'name'"),
        ('{"name": "a", "steps": -1}', ".json", "[steps]: not a valid settings file: steps:"),
        ('{"name": ', ".json", ": malformed JSON at line 1"),
    ],
)
def test_every_problem_has_the_one_format(
    tmp_path: Path, text: str, suffix: str, expected: str
) -> None:
    path = tmp_path / f"settings{suffix}"
    path.write_text(text)
    with pytest.raises(DatasetError) as info:
        load_record(path, Settings, error=DatasetError, what="settings file")
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_all_problems_are_listed_and_validator_prefixes_dropped() -> None:
    with pytest.raises(SpecError) as info:
        validate_record({"steps": 0, "extra": 1}, Settings)
    text = str(info.value)
    assert text.startswith("name: not a valid Settings: name: Field required; steps: ")
    assert "extra: Extra inputs are not permitted" in text and info.value.field == "name"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_record(tmp_path / "nothing.yaml", Settings)


def test_progress_events_are_checked_and_described() -> None:
    event = ProgressEvent("train", 3, 10, "", {"loss": 1.5, "class": 0.25})
    assert event.describe() == "loss 1.500 class 0.250"
    assert ProgressEvent("track", 1, 2, "video 0002").describe() == "video 0002"
    with pytest.raises(ValueError, match="out of range"):
        ProgressEvent("train", 11, 10)
