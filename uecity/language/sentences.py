"""English sentences for composed expressions, and their filesystem-safe ids.

A description becomes a noun phrase: adjectives in their attribute order before the noun, the
other modifiers after it, either reduced ("cars turning left") or in a relative clause that
agrees with the number of referents ("the car which is turning left", "people who are crossing
the road"). Each atom's phrasings are synonyms, picked by the video's generator, and a phrase
may carry a singular/plural alternative as `{a turn|turns}`. ORed descriptions are joined with
"or". Sentences are lower case, like Refer-KITTI's (proper acronyms such as "SUV" excepted).
"""

from __future__ import annotations

import re

import numpy as np

from uecity.language.composition import Composed, Description
from uecity.language.vocabulary import Atom, Vocabulary

MAX_ADJECTIVES = 2
MAX_SLUG_LENGTH = 100
_NUMBER_ALTERNATIVE = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")


def _pick(options: list[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def agree(phrase: str, plural: bool) -> str:
    """Resolve `{singular|plural}` alternatives in a phrase."""
    return _NUMBER_ALTERNATIVE.sub(lambda m: m.group(2) if plural else m.group(1), phrase)


def noun_phrase(
    vocabulary: Vocabulary,
    description: Description,
    plural: bool,
    rng: np.random.Generator,
    *,
    determiner: bool = True,
) -> str:
    """One phrasing of a description, agreeing in number."""
    forms = description.noun.noun if description.noun is not None else vocabulary.generic_noun
    assert forms is not None
    noun = _pick(forms.plural if plural else forms.singular, rng)
    adjectives: list[tuple[int, str]] = []
    posts: list[str] = []
    for atom in _shuffled(description.modifiers, rng):
        use_adjective = bool(atom.adjective) and (
            not atom.post or (len(adjectives) < MAX_ADJECTIVES and rng.random() < 0.5)
        )
        if use_adjective and len(adjectives) < MAX_ADJECTIVES:
            order = vocabulary.attributes[atom.attribute].adjective_order
            adjectives.append((order, _pick(atom.adjective, rng)))
        else:
            posts.append(agree(_pick(atom.post or atom.adjective, rng), plural))
    head = " ".join([*(a for _, a in sorted(adjectives)), noun])
    if determiner:
        head = _determiner(plural, rng) + head
    return head + _post_modifiers(posts, plural, forms.person, rng)


def _shuffled(atoms: tuple[Atom, ...], rng: np.random.Generator) -> list[Atom]:
    return [atoms[i] for i in rng.permutation(len(atoms))]


def _determiner(plural: bool, rng: np.random.Generator) -> str:
    if not plural:
        return "the "
    return _pick(["", "", "", "the ", "all "], rng)


def _post_modifiers(posts: list[str], plural: bool, person: bool, rng: np.random.Generator) -> str:
    if not posts:
        return ""
    pronoun = _pick(["who", "that"] if person else ["which", "that"], rng)
    clause = f" {pronoun} {'are' if plural else 'is'} "
    if len(posts) == 1:
        # A bare one-word participle reads badly after the noun ("vans moving").
        reduced = " " in posts[0] and rng.random() < 0.5
        return (" " if reduced else clause) + posts[0]
    if " " in posts[0] and rng.random() < 0.5:
        return " " + posts[0] + clause + " and ".join(posts[1:])
    return clause + " and ".join(posts)


def sentence(vocabulary: Vocabulary, composed: Composed, rng: np.random.Generator) -> str:
    """One English sentence for a composed expression."""
    if len(composed.parts) == 1:
        return noun_phrase(vocabulary, composed.parts[0], composed.num_objects != 1, rng)
    phrases = [
        noun_phrase(vocabulary, part, count != 1, rng, determiner=count == 1)
        for part, count in zip(composed.parts, composed.part_objects, strict=True)
    ]
    text = ", ".join(phrases[:-1]) + " or " + phrases[-1]
    if all(count != 1 for count in composed.part_objects) and rng.random() < 0.25:
        text = "all " + text
    return text


def slugify(text: str) -> str:
    """A filesystem-safe id from a sentence: lower-case words joined by '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "expression"
    if len(slug) > MAX_SLUG_LENGTH:
        slug = slug[:MAX_SLUG_LENGTH].rsplit("-", 1)[0]
    return slug


def unique_slug(text: str, taken: set[str]) -> str:
    """`slugify(text)`, suffixed `-2`, `-3`, ... until it is not in `taken` (which it joins)."""
    base = slugify(text)
    slug, number = base, 2
    while slug in taken:
        slug = f"{base}-{number}"
        number += 1
    taken.add(slug)
    return slug
