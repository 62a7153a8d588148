"""The asset catalog: which Unreal Blueprint renders each (category, type) of our objects, and
(observe mode) which of a level's own actors are objects of which (category, type).

The catalog is a YAML file that ships with `ue_project/` (`ue_project/asset_catalog.yaml`); a
user with their own vehicles, or a level whose actors are named their own way, points
`--catalog` at their own copy. It is read and checked before a run starts, so an object type
without an asset or a broken name rule is an error up front, not a crash at frame 300.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from uecity.errors import SpecError
from uecity.record_io import describe_validation_error, load_yaml

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "ue_project" / "asset_catalog.yaml"


Category = Literal["vehicle", "pedestrian", "cyclist"]


class AssetEntry(BaseModel):
    """One spawnable asset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category
    type: str = Field(min_length=1, description="Our object type (car, bus, pedestrian, ...).")
    blueprint: str = Field(
        pattern=r"^/\S+_C$",
        description="Loaded class path for `vset /objects/spawn`, e.g. "
        "/Game/UECity/Vehicles/BP_Car.BP_Car_C",
    )
    paint_function: str | None = Field(
        default=None, description="Blueprint function taking R G B in 0..1 (via `vbp`)."
    )
    size_m: tuple[float, float, float] = Field(
        description="The asset's own size (length, width, height), metres, at scale 1."
    )
    pivot: Literal["bottom_centre", "centre"] = Field(
        default="bottom_centre", description="Where the asset's origin sits."
    )
    yaw_offset_deg: float = Field(
        default=0.0, description="Added to the Unreal yaw when the mesh does not face +X."
    )

    @model_validator(mode="after")
    def _positive_size(self) -> AssetEntry:
        if min(self.size_m) <= 0:
            raise ValueError(f"size_m must be positive, got {list(self.size_m)}")
        return self


_GROUP_REFERENCE = re.compile(r"\\(\d+)|\\g<(\w+)>")


class ObserveRule(BaseModel):
    """Observe mode: objects whose name matches `pattern` are actors of `category` and `type`.

    The first rule that matches a name decides; names no rule matches are not recorded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="A Python regular expression searched in the object name.")
    category: Category
    type: str = Field(
        min_length=1,
        description="Our object type, or a group reference (\\1, \\g<name>) to take it from "
        "the name.",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return pattern

    @model_validator(mode="after")
    def _groups_exist(self) -> ObserveRule:
        compiled = re.compile(self.pattern)
        for number, name in _GROUP_REFERENCE.findall(self.type):
            if (number and int(number) > compiled.groups) or (
                name and name not in compiled.groupindex
            ):
                raise ValueError(f"type {self.type!r} refers to a group {self.pattern!r} lacks")
        return self

    @property
    def from_name(self) -> bool:
        """Whether the type is taken from the name (a group reference)."""
        return bool(_GROUP_REFERENCE.search(self.type))

    def match(self, name: str) -> tuple[str, str] | None:
        found = re.search(self.pattern, name)
        if not found:
            return None
        return self.category, found.expand(self.type)


DEFAULT_OBSERVE_RULES = (
    ObserveRule(pattern=r"^traffic_(car|suv|van|bus|truck)_", category="vehicle", type=r"\1"),
    ObserveRule(pattern=r"^traffic_(adult|child)_", category="pedestrian", type=r"\1"),
    ObserveRule(pattern=r"(?i)bus", category="vehicle", type="bus"),
    ObserveRule(pattern=r"(?i)truck|lorry", category="vehicle", type="truck"),
    ObserveRule(pattern=r"(?i)van\b|_van", category="vehicle", type="van"),
    ObserveRule(pattern=r"(?i)suv", category="vehicle", type="suv"),
    ObserveRule(pattern=r"(?i)car|sedan|vehicle", category="vehicle", type="car"),
    ObserveRule(pattern=r"(?i)pedestrian|person|walker|crowd", category="pedestrian", type="adult"),
)
"""The name rules of observe mode when the catalog has none: `serve-sim --traffic`'s
`traffic_<type>_<n>` actors, and names saying what they are."""


class AssetCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    assets: list[AssetEntry]
    observe: list[ObserveRule] | None = Field(
        default=None,
        description="Observe mode's name rules, in order; without them, DEFAULT_OBSERVE_RULES.",
    )

    @model_validator(mode="after")
    def _unique(self) -> AssetCatalog:
        keys = [(a.category, a.type) for a in self.assets]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"(category, type) listed twice: {duplicates}")
        return self

    @model_validator(mode="after")
    def _rules_have_assets(self) -> AssetCatalog:
        for rule in self.observe or ():
            if not rule.from_name and self.lookup(rule.category, rule.type) is None:
                raise ValueError(
                    f"observe rule {rule.pattern!r} gives {rule.category}/{rule.type}, which has "
                    "no asset (its size comes from the asset)"
                )
        return self

    def observe_rules(self) -> tuple[ObserveRule, ...]:
        """The name rules of observe mode: the catalog's own, or the defaults."""
        return tuple(self.observe) if self.observe is not None else DEFAULT_OBSERVE_RULES

    def lookup(self, category: str, type_: str) -> AssetEntry | None:
        for asset in self.assets:
            if asset.category == category and asset.type == type_:
                return asset
        return None


def load_catalog(path: str | Path = DEFAULT_CATALOG) -> AssetCatalog:
    """Read and check a catalog; any problem raises `SpecError` naming the file and field."""
    path = Path(path)
    if not path.exists():
        hint = ""
        if path == DEFAULT_CATALOG:  # an installed package without the repository beside it
            hint = (
                ": the default catalog ships in ue_project/ of the UE-City repository; pass "
                "--catalog with the path of yours"
            )
        raise SpecError(f"asset catalog not found{hint}", path=path)
    data = load_yaml(path, what="asset catalog")
    try:
        return AssetCatalog.model_validate(data)
    except ValidationError as error:
        problems = describe_validation_error(error)
        raise SpecError(
            "; ".join(f"{loc}: {msg}" for loc, msg in problems), path=path, field=problems[0][0]
        ) from None


def check_catalog_covers(
    catalog: AssetCatalog, needed: set[tuple[str, str]], *, path: str | Path = DEFAULT_CATALOG
) -> None:
    """Raise `SpecError` listing every needed (category, type) that has no asset."""
    missing = sorted(k for k in needed if catalog.lookup(*k) is None)
    if missing:
        shown = ", ".join(f"{c}/{t}" for c, t in missing)
        raise SpecError(
            f"no asset for {shown}; add them to the catalog (category, type, blueprint)",
            path=path,
        )
