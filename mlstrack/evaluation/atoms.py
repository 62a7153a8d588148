"""Which language atoms each expression uses, for the per-atom breakdown of the evaluation.

A native UE-City dataset lists each expression's `atoms` (e.g. `colour:black`,
`motion:turning-left`): `uecity evaluate --dataset` reads them and passes them in as plain data.
Otherwise they are derived from the sentence here: its lower-case content words ("black cars
turning left" → black, cars, turning, left), which also works for the original Refer-KITTI.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "at",
        "to",
        "and",
        "or",
        "with",
        "who",
        "which",
        "that",
        "are",
        "is",
        "be",
        "being",
        "been",
        "their",
        "its",
        "it",
        "by",
        "from",
        "for",
        "as",
        "than",
        "this",
        "these",
        "those",
        "there",
        "here",
    }
)


def sentence_atoms(sentence: str) -> list[str]:
    """The sentence's content words, lower case, in order, without repeats."""
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", sentence.lower())
    seen: dict[str, None] = {}
    for word in words:
        if word not in STOPWORDS:
            seen.setdefault(word)
    return list(seen)
