"""The asset catalog: the shipped one loads and covers our types; bad ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from uecity.core.errors import SpecError
from uecity.scene.spec import VEHICLE_TYPES
from uecity.unreal import catalog as catalog_module
from uecity.unreal.catalog import (
    DEFAULT_CATALOG,
    DEFAULT_OBSERVE_RULES,
    check_catalog_covers,
    load_catalog,
)

PEDESTRIAN_TYPES = ("adult", "child")  # what uecity.traffic.demand draws
OUR_TYPES = {("vehicle", t) for t in VEHICLE_TYPES} | {("pedestrian", t) for t in PEDESTRIAN_TYPES}
CAR = "assets: [{category: vehicle, type: car, blueprint: /G/B_C, size_m: [1, 1, 1]}]\n"


def test_shipped_catalog_covers_every_type_we_generate() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    check_catalog_covers(catalog, OUR_TYPES)
    bus = catalog.lookup("vehicle", "bus")
    assert bus is not None and bus.size_m[0] > 10 and bus.blueprint.endswith("_C")


def test_missing_types_are_listed(tmp_path: Path) -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    with pytest.raises(SpecError, match="no asset for cyclist/bike, vehicle/tram"):
        check_catalog_covers(catalog, {("vehicle", "tram"), ("cyclist", "bike"), *OUR_TYPES})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("assets: [", "invalid YAML"),
        (
            "assets: [{category: vehicle, type: car, blueprint: BP_Car, size_m: [1, 1, 1]}]",
            r"assets\[0\]\.blueprint: String should match pattern",
        ),
        (
            "assets: [{category: boat, type: x, blueprint: /G/B_C, size_m: [1, 1, 1]}]",
            r"assets\[0\]\.category",
        ),
        (
            "assets: [{category: vehicle, type: car, blueprint: /G/B_C, size_m: [1, 0, 1]}]",
            "size_m must be positive",
        ),
        (
            "assets:\n - {category: vehicle, type: car, blueprint: /G/B_C, size_m: [1, 1, 1]}\n"
            " - {category: vehicle, type: car, blueprint: /G/C_C, size_m: [1, 1, 1]}",
            "listed twice",
        ),
        (
            f"{CAR}observe: [{{pattern: '(car', category: vehicle, type: car}}]",
            r"observe\[0\]\.pattern: not a regular expression",
        ),
        (
            f"{CAR}observe: [{{pattern: 'BP_Tram', category: vehicle, type: tram}}]",
            r"'BP_Tram' gives vehicle/tram, which has no asset",
        ),
        (
            f"{CAR}observe: [{{pattern: 'BP_Car', category: vehicle, type: '\\1'}}]",
            r"observe\[0\]: type '\\\\1' refers to a group",
        ),
    ],
)
def test_bad_catalogs_are_refused_with_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message) as caught:
        load_catalog(path)
    assert str(path) in str(caught.value)


def test_missing_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpecError, match="asset catalog not found"):
        load_catalog(tmp_path / "nope.yaml")
    # An installed package without the repository's ue_project/ beside it: say what to do.
    monkeypatch.setattr(catalog_module, "DEFAULT_CATALOG", tmp_path / "ue_project/catalog.yaml")
    with pytest.raises(SpecError, match=r"ships in ue_project/.*pass --catalog"):
        load_catalog(catalog_module.DEFAULT_CATALOG)


def test_observe_rules_come_from_the_catalog_or_the_defaults(tmp_path: Path) -> None:
    assert load_catalog(DEFAULT_CATALOG).observe_rules() == DEFAULT_OBSERVE_RULES
    path = tmp_path / "catalog.yaml"
    path.write_text(
        CAR + "observe:\n"
        "  - {pattern: '^BP_(?P<kind>car)_\\d+$', category: vehicle, type: '\\g<kind>'}\n"
        "  - {pattern: '.*Sedan_\\d+', category: vehicle, type: car}\n"
    )
    rules = load_catalog(path).observe_rules()
    assert [r.match("BP_car_12") for r in rules] == [("vehicle", "car"), None]
    assert [r.match("MySedan_3") for r in rules] == [None, ("vehicle", "car")]
    assert [r.match("MySedan_3_Wheel") for r in rules] == [None, None]  # whole names only


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("BP_Bus_C_3", ("vehicle", "bus")),
        ("Bus_2", ("vehicle", "bus")),
        ("BP_Bush_C_1", None),  # `vget /objects` lists the level's props too
        ("BP_Cart_C_2", None),
        ("BP_Car_red_C_4", ("vehicle", "car")),
        ("PlayerCameraManager_2147482001", None),
        ("WorldSettings", None),
        ("traffic_suv_12", ("vehicle", "suv")),
        ("Crowd_Person_7", ("pedestrian", "adult")),
    ],
)
def test_default_observe_rules_match_whole_name_parts(
    name: str, kind: tuple[str, str] | None
) -> None:
    found = next(filter(None, (rule.match(name) for rule in DEFAULT_OBSERVE_RULES)), None)
    assert found == kind
    assert DEFAULT_OBSERVE_RULES[0].match("traffic_bus_7") == ("vehicle", "bus")
