"""Combine atoms into descriptions (AND) and descriptions into expressions (OR).

A *description* is a noun (a category or type atom, or the generic "objects") with up to a few
modifier atoms, all ANDed: "black cars turning left". An *expression* is one description or an
OR of several: "buses or trucks". Rules keep combinations meaningful:

- no atom twice, at most one atom of an exclusive attribute, at most one noun;
- every atom must apply to a common category (no "red pedestrians", no "parked pedestrians");
- atoms never meet an atom or attribute they exclude ("parked cars turning left");
- OR parts are atom-disjoint, none contains another, and each adds referents of its own.

A description without a noun gets its category's noun atom added to its logic when its atoms
apply to one category only, so "moving vehicles" refers to vehicles and nothing else.

Sampling is seeded (a `numpy.random.Generator` per video). A candidate is kept when it refers
to at least `min_objects` tracks over the video and has referents on at least `min_frames`
frames; candidates whose referent set (the (track, frame) pairs) equals an earlier one's are
dropped as duplicates.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from uecity.language.atoms import AtomTable, Mask
from uecity.language.vocabulary import CATEGORIES, Atom, Vocabulary
from uecity.records import LogicNode

logger = logging.getLogger(__name__)


class CompositionConfig(BaseModel):
    """How many expressions to sample per video and which ones to keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expressions_per_video: int = Field(default=50, ge=1, description="Target per video.")
    max_modifiers: int = Field(default=2, ge=0, le=4, description="Modifier atoms per noun.")
    modifier_weights: tuple[float, ...] = Field(
        default=(0.15, 0.45, 0.4),
        description="Sampling weight of descriptions with 0, 1, 2, ... modifiers.",
    )
    or_fraction: float = Field(default=0.2, ge=0, le=1, description="Share of OR expressions.")
    max_or_parts: int = Field(default=2, ge=2, le=4)
    max_or_part_modifiers: int = Field(default=1, ge=0, description="Modifiers per OR part.")
    min_objects: int = Field(default=2, ge=1, description="Drop if fewer referred tracks.")
    max_objects: int | None = Field(
        default=40,
        ge=1,
        description="Drop if more tracks (an expression that takes in nearly everything refers "
        "to nothing; 40 keeps the default scene at about 10 referents per expression).",
    )
    min_frames: int = Field(default=10, ge=1, description="Drop if fewer frames with referents.")
    attempts_per_expression: int = Field(default=40, ge=1, description="Sampling budget.")

    @model_validator(mode="after")
    def _consistent(self) -> CompositionConfig:
        if self.max_objects is not None and self.max_objects < self.min_objects:
            raise ValueError(
                f"max_objects ({self.max_objects}) is below min_objects ({self.min_objects})"
            )
        if not self.modifier_weights or min(self.modifier_weights) < 0:
            raise ValueError("modifier_weights must be non-negative and not empty")
        return self


@dataclass(frozen=True)
class Description:
    """A noun (None: the generic noun) and its modifiers, ANDed."""

    noun: Atom | None
    modifiers: tuple[Atom, ...]

    @property
    def atom_ids(self) -> tuple[str, ...]:
        ids = [self.noun.id] if self.noun is not None else []
        return (*ids, *(m.id for m in self.modifiers))

    def logic(self) -> LogicNode:
        nodes = [LogicNode(op="atom", atom=a) for a in self.atom_ids]
        return nodes[0] if len(nodes) == 1 else LogicNode(op="and", args=nodes)


@dataclass(frozen=True)
class Composed:
    """An expression as composed: its parts (ORed), logic, mask and referent counts."""

    parts: tuple[Description, ...]
    part_objects: tuple[int, ...]  # referred tracks per part, for number agreement
    mask: Mask
    num_objects: int
    num_frames: int

    @property
    def atom_ids(self) -> list[str]:
        return [a for part in self.parts for a in part.atom_ids]

    def logic(self) -> LogicNode:
        if len(self.parts) == 1:
            return self.parts[0].logic()
        return LogicNode(op="or", args=[p.logic() for p in self.parts])


def _categories(atoms: list[Atom]) -> set[str]:
    common = set(CATEGORIES)
    for atom in atoms:
        common &= set(atom.applies_to)
    return common


def description_problem(
    vocabulary: Vocabulary, noun: Atom | None, modifiers: tuple[Atom, ...]
) -> str | None:
    """Why a noun + modifiers is not a meaningful description (None when it is)."""
    atoms = ([noun] if noun is not None else []) + list(modifiers)
    if not atoms:
        return "no atoms"
    ids = [a.id for a in atoms]
    if len(set(ids)) != len(ids):
        return "an atom appears twice"
    if any(m.is_noun for m in modifiers):
        return "more than one noun"
    attributes = [a.attribute for a in atoms]
    for attribute in set(attributes):
        if attributes.count(attribute) > 1 and vocabulary.attributes[attribute].exclusive:
            return f"two atoms of the exclusive attribute '{attribute}'"
    for a, b in itertools.permutations(atoms, 2):
        if b.id in a.excludes or b.attribute in a.excludes:
            return f"'{a.id}' excludes '{b.id}'"
    if not _categories(atoms):
        return "its atoms describe no common category"
    return None


def normalise_description(
    vocabulary: Vocabulary, noun: Atom | None, modifiers: tuple[Atom, ...]
) -> Description:
    """Add the implied category noun when the modifiers apply to one category only."""
    if noun is None:
        categories = _categories(list(modifiers))
        if len(categories) == 1:
            noun = vocabulary.category_noun(next(iter(categories)))
    return Description(noun=noun, modifiers=tuple(sorted(modifiers, key=lambda a: a.id)))


def enumerate_descriptions(
    vocabulary: Vocabulary, max_modifiers: int
) -> dict[int, list[Description]]:
    """Every meaningful description, grouped by its number of modifiers (deterministic order)."""
    nouns: list[Atom | None] = [None, *(a for a in vocabulary.atoms if a.is_noun)]
    modifiers = [a for a in vocabulary.atoms if not a.is_noun]
    seen: set[frozenset[str]] = set()
    grouped: dict[int, list[Description]] = {}
    for size in range(max_modifiers + 1):
        for combo in itertools.combinations(modifiers, size):
            for noun in nouns:
                if noun is None and size == 0:
                    continue
                if description_problem(vocabulary, noun, combo) is not None:
                    continue
                description = normalise_description(vocabulary, noun, combo)
                key = frozenset(description.atom_ids)
                if key not in seen:
                    seen.add(key)
                    grouped.setdefault(size, []).append(description)
    return grouped


class _Sampler:
    """Seeded sampling of descriptions and ORs over one video's atom table."""

    def __init__(
        self,
        table: AtomTable,
        descriptions: dict[int, list[Description]],
        config: CompositionConfig,
        rng: np.random.Generator,
    ):
        self.table = table
        self.config = config
        self.rng = rng
        self.pools = {
            size: [items[i] for i in rng.permutation(len(items))]
            for size, items in sorted(descriptions.items())
        }
        self.cursors = dict.fromkeys(self.pools, 0)
        self.seen: set[bytes] = set()
        self.kept: list[Composed] = []
        self.or_pool: list[tuple[Description, Mask, int]] = []

    def counts(self, mask: Mask) -> tuple[int, int]:
        return (
            len(np.unique(self.table.facts.boxes.track_id[mask])),
            len(np.unique(self.table.facts.boxes.frame[mask])),
        )

    def passes(self, objects: int, frames: int) -> bool:
        config = self.config
        return (
            objects >= config.min_objects
            and frames >= config.min_frames
            and (config.max_objects is None or objects <= config.max_objects)
        )

    def keep(self, composed: Composed) -> bool:
        signature = np.packbits(composed.mask).tobytes()
        if signature in self.seen:
            return False
        self.seen.add(signature)
        self.kept.append(composed)
        return True

    def next_description(self) -> Description | None:
        sizes = [s for s in self.pools if self.cursors[s] < len(self.pools[s])]
        if not sizes:
            return None
        weights = np.array(
            [
                self.config.modifier_weights[min(s, len(self.config.modifier_weights) - 1)]
                for s in sizes
            ],
            dtype=float,
        )
        if weights.sum() <= 0:
            weights = np.ones(len(sizes))
        size = sizes[int(self.rng.choice(len(sizes), p=weights / weights.sum()))]
        description = self.pools[size][self.cursors[size]]
        self.cursors[size] += 1
        return description

    def try_description(self) -> bool | None:
        description = self.next_description()
        if description is None:
            return None
        mask = self.table.evaluate(description.logic())
        objects, frames = self.counts(mask)
        if objects and len(description.modifiers) <= self.config.max_or_part_modifiers:
            self.or_pool.append((description, mask, objects))
        if not self.passes(objects, frames):
            return False
        return self.keep(Composed((description,), (objects,), mask, objects, frames))

    def try_or(self) -> bool:
        if len(self.or_pool) < 2:
            return False
        size = int(self.rng.integers(2, min(self.config.max_or_parts, len(self.or_pool)) + 1))
        chosen = [self.or_pool[i] for i in self.rng.choice(len(self.or_pool), size, False)]
        parts = [c[0] for c in chosen]
        atom_sets = [set(p.atom_ids) for p in parts]
        for a, b in itertools.combinations(atom_sets, 2):
            if a & b or a <= b or b <= a:
                return False
        masks = [c[1] for c in chosen]
        mask = np.logical_or.reduce(masks)
        for index, part_mask in enumerate(masks):
            others = np.logical_or.reduce([m for j, m in enumerate(masks) if j != index])
            if not np.any(part_mask & ~others):
                return False  # a part adding no referent of its own is padding
        objects, frames = self.counts(mask)
        if not self.passes(objects, frames):
            return False
        order = sorted(range(size), key=lambda i: parts[i].atom_ids)
        return self.keep(
            Composed(
                tuple(parts[i] for i in order),
                tuple(chosen[i][2] for i in order),
                mask,
                objects,
                frames,
            )
        )

    def run(self) -> list[Composed]:
        config = self.config
        target = config.expressions_per_video
        target_or = round(target * config.or_fraction)
        budget = target * config.attempts_per_expression
        attempts = 0
        while len(self.kept) < target - target_or and attempts < budget:
            attempts += 1
            if self.try_description() is None:
                break
        while len(self.kept) < target and attempts < budget:
            attempts += 1
            if not self.try_or() and self.try_description() is None and len(self.or_pool) < 2:
                break
        return self.kept


def compose_video(
    table: AtomTable,
    descriptions: dict[int, list[Description]],
    config: CompositionConfig,
    rng: np.random.Generator,
) -> list[Composed]:
    """Sample up to `config.expressions_per_video` kept, deduplicated expressions for a video."""
    kept = _Sampler(table, descriptions, config, rng).run()
    logger.info("%s: %d expressions composed", table.facts.video_id, len(kept))
    return kept
