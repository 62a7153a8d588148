"""The asset catalog: which Unreal Blueprint renders each (category, type) of our objects.

The catalog is a YAML file that ships with `ue_project/` (`ue_project/asset_catalog.yaml`); a
user with their own vehicles points `--catalog` at their own copy. It is read and checked
before a run starts, so an object type without an asset is an error up front, not a crash at
frame 300.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from uecity.errors import SpecError
from uecity.record_io import describe_validation_error

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "ue_project" / "asset_catalog.yaml"


class AssetEntry(BaseModel):
    """One spawnable asset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Literal["vehicle", "pedestrian", "cyclist"]
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


class AssetCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    assets: list[AssetEntry]

    @model_validator(mode="after")
    def _unique(self) -> AssetCatalog:
        keys = [(a.category, a.type) for a in self.assets]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"(category, type) listed twice: {duplicates}")
        return self

    def lookup(self, category: str, type_: str) -> AssetEntry | None:
        for asset in self.assets:
            if asset.category == category and asset.type == type_:
                return asset
        return None


def load_catalog(path: str | Path = DEFAULT_CATALOG) -> AssetCatalog:
    """Read and check a catalog; any problem raises `SpecError` naming the file and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError("asset catalog not found", path=path) from None
    except yaml.YAMLError as error:
        raise SpecError(f"invalid YAML: {error}", path=path) from None
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
