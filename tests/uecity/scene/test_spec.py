"""The scene spec: the default, the example specs, overrides and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from uecity.core.errors import SpecError
from uecity.scene.spec import SceneSpec, load_spec, parse_spec
from uecity.scene.templates import TEMPLATES, get_template

SPECS = Path(__file__).resolve().parents[3] / "specs"


def test_default_yaml_is_the_builtin_default() -> None:
    assert load_spec(SPECS / "default.yaml") == load_spec(None) == SceneSpec()


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_parse(path: Path) -> None:
    spec = load_spec(path)
    assert spec.run.videos >= 1


def test_overrides_are_validated() -> None:
    spec = SceneSpec().with_overrides(videos=3, frames=7, seed=5)
    assert (spec.run.videos, spec.run.frames, spec.run.seed) == (3, 7, 5)
    with pytest.raises(SpecError, match=r"run\.frames"):
        SceneSpec().with_overrides(frames=0)


def test_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("intersection:\n  lanes_per_approach: 9\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value) and "intersection.lanes_per_approach" in str(info.value)
    with pytest.raises(SpecError, match="mapping"):
        parse_spec([1, 2])


def test_templates_turns() -> None:
    assert set(TEMPLATES) == {"cross4", "tee"}
    cross = get_template("cross4")
    arms = {a.name: a for a in cross.arms}
    # Coming in from the south arm (heading north): west is left, east is right.
    assert cross.turn(arms["S"], arms["W"]) == "left"
    assert cross.turn(arms["S"], arms["E"]) == "right"
    assert cross.turn(arms["S"], arms["N"]) == "straight"
    assert cross.turn(arms["S"], arms["S"]) is None
    with pytest.raises(SpecError, match="known templates"):
        get_template("star5")
