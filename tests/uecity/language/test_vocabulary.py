from pathlib import Path

import pytest

from uecity.core.errors import SpecError
from uecity.language.vocabulary import LabelMatching, load_vocabulary, normalise_label


def test_default_vocabulary_covers_the_generator_elements():
    vocabulary = load_vocabulary()
    attributes = {atom.attribute for atom in vocabulary.atoms}
    assert {
        "category",
        "type",
        "colour",
        "motion_state",
        "manoeuvre",
        "heading",
        "pedestrian_activity",
        "horizontal_position",
        "depth",
    } <= attributes
    colours = [a for a in vocabulary.atoms if a.attribute == "colour"]
    assert len(colours) >= 8


def test_label_matching_ignores_prefix_case_and_underscores():
    matching = LabelMatching()
    assert normalise_label("manoeuvre:Turning_Left", matching) == "turning left"
    assert normalise_label("motion/moving", matching) == "moving"
    assert normalise_label("turning left", LabelMatching(strip_prefix=False)) == "turning left"


def test_extension_adds_and_replaces_atoms(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "extends: default\n"
        "atoms:\n"
        "  - id: colour=pink\n"
        "    attribute: colour\n"
        "    test: {object: {colour_name: [pink]}}\n"
        "    applies_to: [vehicle]\n"
        "    adjective: [pink]\n"
        "  - id: type=car\n"
        "    attribute: type\n"
        "    test: {object: {type: [car, sedan]}}\n"
        "    applies_to: [vehicle]\n"
        "    noun: {singular: [car, sedan], plural: [cars, sedans]}\n"
    )
    vocabulary = load_vocabulary(path)
    assert vocabulary.atom("colour=pink").adjective == ["pink"]
    assert vocabulary.atom("type=car").test.object == {"type": ["car", "sedan"]}
    assert len(vocabulary.atoms) == len(load_vocabulary().atoms) + 1


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            "attributes: {colour: {}}\natoms:\n  - {id: a, attribute: colr, "
            "test: {motion: [x]}, post: [x]}\n",
            "atoms[0].attribute",
            "unknown attribute 'colr'",
        ),
        (
            "attributes: {colour: {}}\natoms:\n  - {id: a, attribute: colour, "
            "test: {object: {hue: [red]}}, adjective: [red]}\n",
            "atoms[0].test.object.hue",
            "hue",
        ),
        (
            "attributes: {colour: {}}\natoms:\n  - {id: a, attribute: colour, "
            "test: {motion: [x]}}\n",
            "atoms[0]",
            "needs a noun",
        ),
        ("atoms: [\n", None, "invalid YAML"),
    ],
)
def test_bad_vocabularies_name_file_and_field(tmp_path: Path, text, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_vocabulary(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
    if field:
        assert caught.value.field.startswith(field)
