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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from uecity.core.errors import SpecError
from uecity.core.record_io import load_record
from uecity.scene.spec import COLOURS

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
    paint: Literal["variants", "function"] | None = Field(
        default=None,
        description="How an actor gets its colour: `variants` spawns the colour's own class "
        "(`variant_class`: no console needed, works in every build), `function` calls "
        "`paint_function` through `vbp` (needs the viewport console: not in Shipping builds). "
        "Default: `function` when a paint_function is given, else `variants`.",
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

    @model_validator(mode="after")
    def _paint_is_possible(self) -> AssetEntry:
        if self.paint == "function" and not self.paint_function:
            raise ValueError("paint: function needs a paint_function")
        return self

    @property
    def paint_mode(self) -> str:
        """`variants` or `function` (see `paint`)."""
        return self.paint or ("function" if self.paint_function else "variants")

    def variant_class(self, colour_name: str) -> str:
        """The class of this asset painted `colour_name`: `/Game/X/BP_Car.BP_Car_C` →
        `/Game/X/Variants/BP_Car_red.BP_Car_red_C` (`ue_project/Scripts/create_assets.py` makes
        one per named colour)."""
        folder, _, leaf = self.blueprint.rpartition("/")
        asset = leaf.split(".")[0]
        return f"{folder}/Variants/{asset}_{colour_name}.{asset}_{colour_name}_C"

    def spawn_class(self, colour_name: str) -> str:
        """What `vset /objects/spawn` takes for an actor of this asset in `colour_name`."""
        return self.variant_class(colour_name) if self.paint_mode == "variants" else self.blueprint

    def classes(self) -> list[str]:
        """Every class of this asset the level must have loaded (and a packaged game cooked)."""
        if self.paint_mode == "function":
            return [self.blueprint]
        return [self.blueprint, *(self.variant_class(c) for c in COLOURS)]


_GROUP_REFERENCE = re.compile(r"\\(\d+)|\\g<(\w+)>")


class ObserveRule(BaseModel):
    """Observe mode: objects whose name matches `pattern` are actors of `category` and `type`.

    The first rule that matches a name decides; names no rule matches are not recorded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(
        description="A Python regular expression the whole object name must match."
    )
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
        found = re.fullmatch(self.pattern, name)
        if not found:
            return None
        return self.category, found.expand(self.type)


def _word_rule(words: str, category: Category, type_: str) -> ObserveRule:
    """A rule matching names that have one of `words` as a whole `_`-separated part:
    `bus` matches `BP_Bus_C_3` and `Bus_2`, never `BP_Bush_C_1`."""
    return ObserveRule(pattern=rf"(?i)(?:.*_)?(?:{words})(?:_.*)?", category=category, type=type_)


DEFAULT_OBSERVE_RULES = (
    ObserveRule(pattern=r"traffic_(car|suv|van|bus|truck)_\d+", category="vehicle", type=r"\1"),
    ObserveRule(pattern=r"traffic_(adult|child)_\d+", category="pedestrian", type=r"\1"),
    _word_rule("bus", "vehicle", "bus"),
    _word_rule("truck|lorry", "vehicle", "truck"),
    _word_rule("van", "vehicle", "van"),
    _word_rule("suv", "vehicle", "suv"),
    _word_rule("car|sedan|vehicle", "vehicle", "car"),
    _word_rule("pedestrian|person|walker|crowd", "pedestrian", "adult"),
)
"""The name rules of observe mode when the catalog has none: `serve-sim --traffic`'s
`traffic_<type>_<n>` actors, and names one of whose `_`-separated parts says what they are.
`vget /objects` lists every actor of the world (WorldSettings, the pawn, the HUD, level props
such as `BP_Bush_C_1`), so rules match whole names, never substrings."""


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
    return load_record(path, AssetCatalog, what="asset catalog")


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
