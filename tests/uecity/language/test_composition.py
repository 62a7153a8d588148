import numpy as np
import pytest

from uecity.language.atoms import AtomTable, VideoFacts
from uecity.language.composition import (
    CompositionConfig,
    compose_video,
    description_problem,
    enumerate_descriptions,
)
from uecity.language.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def vocabulary():
    return load_vocabulary()


def _problem(vocabulary, noun, *modifiers):
    atoms = vocabulary.by_id()
    return description_problem(
        vocabulary, atoms[noun] if noun else None, tuple(atoms[m] for m in modifiers)
    )


@pytest.mark.parametrize(
    ("noun", "modifiers", "reason"),
    [
        ("category=pedestrian", ["colour=red", "manoeuvre=turning-left"], "no common category"),
        ("category=pedestrian", ["colour=red"], "no common category"),
        ("category=pedestrian", ["motion=parked"], "no common category"),
        ("type=car", ["colour=red", "colour=black"], "exclusive attribute 'colour'"),
        ("type=car", ["colour=red", "colour=red"], "twice"),
        ("type=car", ["motion=parked", "manoeuvre=turning-left"], "excludes"),
        ("type=car", ["type=bus"], "more than one noun"),
        (None, ["activity=crossing-road", "manoeuvre=straight"], "no common category"),
    ],
)
def test_rules_reject_meaningless_combinations(vocabulary, noun, modifiers, reason):
    problem = _problem(vocabulary, noun, *modifiers)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("noun", "modifiers"),
    [
        ("type=car", ["colour=black", "manoeuvre=turning-left"]),
        ("category=pedestrian", ["activity=crossing-road"]),
        (None, ["motion=moving"]),
        ("type=bus", []),
    ],
)
def test_rules_accept_meaningful_combinations(vocabulary, noun, modifiers):
    assert _problem(vocabulary, noun, *modifiers) is None


def test_descriptions_without_noun_get_their_category_noun(vocabulary):
    descriptions = enumerate_descriptions(vocabulary, 1)
    ids = {d.atom_ids for size in descriptions.values() for d in size}
    assert ("category=vehicle", "colour=black") in ids  # "black vehicles" refers to vehicles
    assert ("colour=black",) not in ids
    assert ("position=left",) in ids  # applies to every category: "objects on the left"
    assert len(ids) == sum(len(v) for v in descriptions.values())  # no duplicates


def _compose(dataset, config, seed=0, video="0001"):
    vocabulary = load_vocabulary()
    table = AtomTable(vocabulary, VideoFacts.from_video(dataset.video(video)))
    descriptions = enumerate_descriptions(vocabulary, config.max_modifiers)
    return table, compose_video(table, descriptions, config, np.random.default_rng(seed))


def test_thresholds_and_dedup(traffic):
    config = CompositionConfig(expressions_per_video=40, min_objects=3, min_frames=15)
    table, composed = _compose(traffic, config)
    assert 0 < len(composed) <= 40
    signatures = set()
    for item in composed:
        assert item.num_objects >= 3 and item.num_frames >= 15
        assert len(np.unique(table.facts.boxes.track_id[item.mask])) == item.num_objects
        signatures.add(
            frozenset(
                zip(
                    table.facts.boxes.frame[item.mask],
                    table.facts.boxes.track_id[item.mask],
                    strict=True,
                )
            )
        )
    assert len(signatures) == len(composed)  # identical referent sets are deduplicated


def test_max_objects_threshold(traffic):
    _, composed = _compose(traffic, CompositionConfig(max_objects=4, min_objects=1, min_frames=1))
    assert composed and all(item.num_objects <= 4 for item in composed)


def test_or_expressions_are_per_frame_unions_of_their_parts(traffic):
    config = CompositionConfig(or_fraction=0.5, expressions_per_video=30, min_objects=1)
    table, composed = _compose(traffic, config)
    ors = [c for c in composed if len(c.parts) > 1]
    assert ors
    for item in ors:
        union = np.logical_or.reduce([table.evaluate(p.logic()) for p in item.parts])
        np.testing.assert_array_equal(union, item.mask)
        np.testing.assert_array_equal(table.evaluate(item.logic()), item.mask)
        atom_sets = [set(p.atom_ids) for p in item.parts]
        assert not atom_sets[0] & atom_sets[1]


def test_same_seed_same_expressions(traffic):
    config = CompositionConfig()
    first = [c.atom_ids for c in _compose(traffic, config, seed=5)[1]]
    again = [c.atom_ids for c in _compose(traffic, config, seed=5)[1]]
    other = [c.atom_ids for c in _compose(traffic, config, seed=6)[1]]
    assert first == again and first != other


def test_config_is_checked():
    with pytest.raises(ValueError, match="max_objects"):
        CompositionConfig(min_objects=5, max_objects=2)
