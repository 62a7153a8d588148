import numpy as np
import pytest

from uecity.language.composition import Composed, Description
from uecity.language.sentences import agree, sentence, slugify, unique_slug
from uecity.language.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def vocabulary():
    return load_vocabulary()


def _composed(vocabulary, parts, counts):
    atoms = vocabulary.by_id()
    descriptions = tuple(
        Description(atoms[noun] if noun else None, tuple(atoms[m] for m in mods))
        for noun, mods in parts
    )
    return Composed(descriptions, tuple(counts), np.zeros(0, bool), sum(counts), 10)


def _sentences(vocabulary, composed, n=40):
    rng = np.random.default_rng(0)
    return {sentence(vocabulary, composed, rng) for _ in range(n)}


def test_plural_agreement(vocabulary):
    composed = _composed(vocabulary, [("type=car", ["manoeuvre=turning-left"])], [5])
    texts = _sentences(vocabulary, composed)
    assert len(texts) >= 4  # several phrasings
    for text in texts:
        assert "cars" in text and "car " not in text + " "
        assert " is " not in text
    assert any("which are" in t or "that are" in t for t in texts)


def test_singular_agreement(vocabulary):
    composed = _composed(vocabulary, [("type=car", ["manoeuvre=turning-left"])], [1])
    for text in _sentences(vocabulary, composed):
        assert text.startswith("the car")
        assert " are " not in text and "cars" not in text


def test_persons_take_who_and_number_alternatives(vocabulary):
    composed = _composed(vocabulary, [("category=pedestrian", ["activity=crossing-road"])], [3])
    texts = _sentences(vocabulary, composed)
    assert not any("which" in t for t in texts)
    assert agree("making {a turn|turns}", plural=True) == "making turns"
    assert agree("making {a turn|turns}", plural=False) == "making a turn"


def test_or_sentence(vocabulary):
    composed = _composed(vocabulary, [("type=bus", []), ("type=truck", [])], [3, 4])
    texts = _sentences(vocabulary, composed)
    assert "buses or trucks" in texts or "all buses or trucks" in texts
    assert all(" or " in t for t in texts)


def test_colour_noun_order(vocabulary):
    composed = _composed(vocabulary, [("type=car", ["colour=black"])], [4])
    texts = _sentences(vocabulary, composed)
    assert any(t.endswith("black cars") for t in texts)
    assert any("cars" in t and "in black" in t for t in texts)


def test_slugs_are_safe_and_unique():
    taken: set[str] = set()
    first = unique_slug("Black SUVs, turning left!", taken)
    second = unique_slug("black suvs turning left", taken)
    assert first == "black-suvs-turning-left"
    assert second == "black-suvs-turning-left-2"
    assert len(slugify("word " * 100)) <= 100
