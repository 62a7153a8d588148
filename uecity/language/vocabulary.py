"""The vocabulary: atoms (predicates over an object at a frame) and their English phrasings.

A vocabulary is a YAML file (the default ships as `default_vocabulary.yaml`). Each atom belongs
to an *attribute* (category, type, colour, motion state, ...), has one test (an object field,
motion interval labels, or a region of the image) and one or more phrasings: a noun, adjectives
that go before the noun, or post-modifiers that follow it ("turning left", "in black").

A user vocabulary may set `extends: default` to add atoms to the default (an atom with the same
id replaces the default's) or change its label matching.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from uecity.core.errors import SpecError
from uecity.core.record_io import load_yaml, validation_message

DEFAULT_VOCABULARY = "default_vocabulary.yaml"
CATEGORIES = ("vehicle", "pedestrian", "cyclist")
ObjectField = Literal["category", "type", "colour_name"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NounForms(_Strict):
    """A noun's singular and plural forms; each list holds synonyms, the first is preferred."""

    singular: list[str] = Field(min_length=1)
    plural: list[str] = Field(min_length=1)
    person: bool = Field(default=False, description="Relative clauses use 'who' for it.")


class BoxRegion(_Strict):
    """A region of the image in normalised coordinates of the box's bottom-centre point."""

    centre_x: tuple[float, float] = Field(default=(0.0, 1.0), description="[low, high) of cx/W.")
    bottom_y: tuple[float, float] = Field(default=(0.0, 1.0), description="[low, high) of y2/H.")


class AtomTest(_Strict):
    """What makes the atom true for an object at a frame: exactly one of the three tests."""

    object: dict[ObjectField, list[str]] | None = Field(
        default=None, description="Object field to accepted values (all fields must match)."
    )
    motion: list[str] | None = Field(
        default=None, description="Motion interval labels, any of which makes the atom true."
    )
    box: BoxRegion | None = Field(default=None, description="Image region of the box.")

    @model_validator(mode="after")
    def _exactly_one(self) -> AtomTest:
        given = [name for name in ("object", "motion", "box") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"an atom test needs exactly one of object/motion/box, got {given}")
        return self


class Atom(_Strict):
    """One language element: a predicate over (object, frame) with its phrasings."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_=.-]*$", description="Unique atom id.")
    attribute: str = Field(description="The attribute (a key of `attributes`) it belongs to.")
    test: AtomTest
    applies_to: list[Literal["vehicle", "pedestrian", "cyclist"]] = Field(
        default_factory=lambda: list(CATEGORIES),
        description="Categories the atom can meaningfully describe.",
    )
    noun: NounForms | None = None
    adjective: list[str] = Field(default_factory=list, description="Before the noun: 'black'.")
    post: list[str] = Field(default_factory=list, description="After the noun: 'turning left'.")
    excludes: list[str] = Field(
        default_factory=list, description="Atom ids or attributes it never combines with."
    )

    @model_validator(mode="after")
    def _has_phrasing(self) -> Atom:
        if self.noun is None and not self.adjective and not self.post:
            raise ValueError(f"atom '{self.id}' needs a noun, an adjective or a post phrasing")
        if self.noun is not None and (self.adjective or self.post):
            raise ValueError(f"atom '{self.id}': a noun atom has no adjective/post phrasings")
        return self

    @property
    def is_noun(self) -> bool:
        return self.noun is not None


class Attribute(_Strict):
    """A group of atoms; atoms of an exclusive attribute never appear together in an AND."""

    exclusive: bool = True
    adjective_order: int = Field(default=50, description="Lower comes first before the noun.")


class LabelMatching(_Strict):
    """How motion interval labels are compared with the labels an atom names."""

    strip_prefix: bool = Field(
        default=True, description="Ignore a prefix up to the last ':' or '/' ('motion:moving')."
    )
    case_insensitive: bool = True
    underscores_are_spaces: bool = Field(default=True, description="'turning_left' matches.")


class Vocabulary(_Strict):
    """The whole vocabulary file."""

    extends: Literal["default"] | None = None
    label_matching: LabelMatching = Field(default_factory=LabelMatching)
    generic_noun: NounForms = Field(
        default_factory=lambda: NounForms(singular=["object"], plural=["objects"])
    )
    attributes: dict[str, Attribute] = Field(default_factory=dict)
    atoms: list[Atom] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Vocabulary:
        ids = [atom.id for atom in self.atoms]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"atom ids listed twice: {duplicates}")
        known = set(ids) | set(self.attributes)
        for index, atom in enumerate(self.atoms):
            if atom.attribute not in self.attributes:
                raise _FieldProblem(
                    f"atoms[{index}].attribute",
                    f"atom '{atom.id}' names unknown attribute '{atom.attribute}' "
                    f"(known: {', '.join(sorted(self.attributes)) or 'none'})",
                )
            unknown = [name for name in atom.excludes if name not in known]
            if unknown:
                raise _FieldProblem(
                    f"atoms[{index}].excludes",
                    f"atom '{atom.id}' excludes unknown atoms or attributes {unknown}",
                )
        return self

    def atom(self, atom_id: str) -> Atom:
        for atom in self.atoms:
            if atom.id == atom_id:
                return atom
        raise SpecError(f"no atom '{atom_id}' in the vocabulary")

    def by_id(self) -> dict[str, Atom]:
        return {atom.id: atom for atom in self.atoms}

    def category_noun(self, category: str) -> Atom | None:
        """The noun atom that tests exactly this category (used when a description has no noun)."""
        for atom in self.atoms:
            if atom.noun is not None and atom.test.object == {"category": [category]}:
                return atom
        return None

    def digest(self) -> str:
        """A short hash of the vocabulary, recorded with the expressions it composed."""
        text = self.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _FieldProblem(ValueError):
    """A consistency problem with a precise location (raised inside the model validator)."""

    def __init__(self, location: str, message: str):
        self.location = location
        super().__init__(message)


def normalise_label(label: str, matching: LabelMatching) -> str:
    """A motion label in the form used for comparison ('Motion:Turning_Left' → 'turning left')."""
    text = label
    if matching.strip_prefix:
        text = re.split(r"[:/]", text)[-1]
    if matching.underscores_are_spaces:
        text = text.replace("_", " ")
    if matching.case_insensitive:
        text = text.lower()
    return " ".join(text.split())


def _merge(default: dict, extension: dict) -> dict:
    """A user vocabulary over the default: its atoms replace same-id ones or are appended."""
    merged = dict(default)
    for key, value in extension.items():
        if key == "atoms":
            atoms = {atom.get("id"): atom for atom in default.get("atoms", [])}
            for atom in value or []:
                atoms[atom.get("id") if isinstance(atom, dict) else None] = atom
            merged["atoms"] = list(atoms.values())
        elif key == "attributes":
            merged["attributes"] = {**default.get("attributes", {}), **(value or {})}
        elif key != "extends":
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    data = load_yaml(path, what="vocabulary")
    if not isinstance(data, dict):
        raise SpecError("a vocabulary is a YAML mapping with 'attributes' and 'atoms'", path=path)
    return data


def default_vocabulary_path() -> Path:
    return Path(str(resources.files("uecity.language").joinpath(DEFAULT_VOCABULARY)))


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Read and check a vocabulary file (the shipped default when `path` is None)."""
    source = Path(path) if path is not None else default_vocabulary_path()
    data = _read_yaml(source)
    if data.get("extends") == "default" and path is not None:
        data = _merge(_read_yaml(default_vocabulary_path()), data)
    try:
        vocabulary = Vocabulary.model_validate(data)
    except ValidationError as error:
        for item in error.errors(include_url=False):
            cause = item.get("ctx", {}).get("error")
            if isinstance(cause, _FieldProblem):
                raise SpecError(str(cause), path=source, field=cause.location) from None
        field, text = validation_message(error)
        raise SpecError(f"not a valid vocabulary: {text}", path=source, field=field) from None
    if not vocabulary.atoms:
        raise SpecError("the vocabulary has no atoms", path=source, field="atoms")
    return vocabulary
