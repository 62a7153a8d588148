"""Which language atoms each expression uses, for the per-atom breakdown of the evaluation.

From our native dataset when it is given (each expression JSON lists its `atoms`, e.g.
`colour:black`, `motion:turning-left`); otherwise derived from the sentence: its lower-case
content words ("black cars turning left" → black, cars, turning, left), which also works for
the original Refer-KITTI.
"""

from __future__ import annotations

import re
from pathlib import Path

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


def native_atoms(dataset_root: str | Path) -> dict[tuple[str, str], list[str]]:
    """(video, expression id) → atom ids, from a native UE-City dataset folder."""
    from uecity.dataset import Dataset

    dataset = Dataset.open(Path(dataset_root))
    atoms: dict[tuple[str, str], list[str]] = {}
    for video_id in dataset.videos:
        for expression in dataset.video(video_id).expressions():
            atoms[(video_id, expression.expression_id)] = list(expression.atoms)
    return atoms
