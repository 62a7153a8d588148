"""UE editor script: create the paint material and the spawnable Blueprints of the catalog.

Run inside the Unreal Editor (Tools ▸ Execute Python Script…, or
`UnrealEditor UECity.uproject -run=pythonscript -script=Scripts/create_assets.py`), before
`setup_level.py`. It reads `asset_catalog.yaml` beside this folder and, for each entry, creates
a Blueprint actor at the catalog's path with a static mesh scaled to the entry's size and the
shared paint material `M_UECityPaint` (a `PaintColor` vector parameter into Base Color), and —
for entries painted by colour variants, the default — one Blueprint per named colour
(`<folder>/Variants/BP_X_<colour>`) whose mesh has a material instance of that colour. A
variant is chosen at spawn, so painting needs no console and works in every build (UnrealCV's
`vbp` needs the viewport console, which Shipping builds lack, and `vset /object/<n>/material`
exists only in editor builds).

Replace the placeholder meshes with real vehicle meshes whenever you like: keep the Blueprint
paths, and update `size_m` in the catalog.
"""

from __future__ import annotations

from pathlib import Path

import unreal  # type: ignore[import-not-found]  # only inside the Unreal Editor

try:
    import yaml  # type: ignore[import-untyped]
except ImportError as error:  # pragma: no cover - depends on the editor's Python
    raise SystemExit(
        "PyYAML is missing from the editor's Python: run "
        "`<UE>/Engine/Binaries/ThirdParty/Python3/<Platform>/bin/python3 -m pip install pyyaml`"
    ) from error

CATALOG = Path(__file__).resolve().parent.parent / "asset_catalog.yaml"
PAINT_COLOURS = {
    "black": (20, 20, 22), "white": (235, 235, 232), "grey": (128, 128, 130),
    "silver": (190, 192, 196), "red": (190, 25, 25), "blue": (30, 60, 170),
    "green": (30, 120, 50), "yellow": (230, 200, 30), "orange": (230, 120, 20),
    "brown": (110, 70, 40),
}  # fmt: skip
"""uecity's named colours (`uecity.scene.spec.COLOURS`; the editor's Python has no uecity, so
they are repeated here, and a test keeps the two equal)."""
MATERIAL_PATH = "/Game/UECity/Materials"
MATERIAL_NAME = "M_UECityPaint"
CUBE_MESH = "/Engine/BasicShapes/Cube.Cube"  # 100 cm on each side
CYLINDER_MESH = "/Engine/BasicShapes/Cylinder.Cylinder"  # 100 cm across, 100 cm high


def variant_class(blueprint: str, colour: str) -> str:
    """`/Game/X/BP_Car.BP_Car_C` → `/Game/X/Variants/BP_Car_red.BP_Car_red_C`, as uecity's
    `AssetEntry.variant_class` spawns it (a test keeps the two equal)."""
    folder, _, leaf = blueprint.rpartition("/")
    asset = leaf.split(".")[0]
    return f"{folder}/Variants/{asset}_{colour}.{asset}_{colour}_C"


def paints_by_variants(entry: dict) -> bool:
    return entry.get("paint") == "variants" or (
        entry.get("paint") is None and not entry.get("paint_function")
    )


def catalog_classes() -> list[str]:
    """Every class the level must load: each entry's, and its colour variants."""
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    out = []
    for entry in catalog["assets"]:
        out.append(entry["blueprint"])
        if paints_by_variants(entry):
            out += [variant_class(entry["blueprint"], c) for c in PAINT_COLOURS]
    return out


def srgb_to_linear(value: int) -> float:
    c = value / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def create_paint_instance(material: unreal.Material, colour: str) -> unreal.MaterialInterface:
    name = f"MI_UECityPaint_{colour}"
    existing = f"{MATERIAL_PATH}/{name}"
    if unreal.EditorAssetLibrary.does_asset_exist(existing):
        return unreal.EditorAssetLibrary.load_asset(existing)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    instance = tools.create_asset(
        name, MATERIAL_PATH, unreal.MaterialInstanceConstant,
        unreal.MaterialInstanceConstantFactoryNew(),
    )  # fmt: skip
    lib = unreal.MaterialEditingLibrary
    lib.set_material_instance_parent(instance, material)
    r, g, b = (srgb_to_linear(v) for v in PAINT_COLOURS[colour])
    lib.set_material_instance_vector_parameter_value(
        instance, "PaintColor", unreal.LinearColor(r, g, b, 1.0)
    )
    unreal.EditorAssetLibrary.save_loaded_asset(instance)
    return instance


def create_paint_material() -> unreal.Material:
    existing = f"{MATERIAL_PATH}/{MATERIAL_NAME}"
    if unreal.EditorAssetLibrary.does_asset_exist(existing):
        return unreal.EditorAssetLibrary.load_asset(existing)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    material = tools.create_asset(
        MATERIAL_NAME, MATERIAL_PATH, unreal.Material, unreal.MaterialFactoryNew()
    )
    lib = unreal.MaterialEditingLibrary
    colour = lib.create_material_expression(
        material, unreal.MaterialExpressionVectorParameter, -400, 0
    )
    colour.set_editor_property("parameter_name", "PaintColor")
    colour.set_editor_property("default_value", unreal.LinearColor(0.5, 0.5, 0.5, 1.0))
    lib.connect_material_property(colour, "", unreal.MaterialProperty.MP_BASE_COLOR)
    roughness = lib.create_material_expression(
        material, unreal.MaterialExpressionConstant, -400, 200
    )
    roughness.set_editor_property("r", 0.35)
    lib.connect_material_property(roughness, "", unreal.MaterialProperty.MP_ROUGHNESS)
    lib.recompile_material(material)
    unreal.EditorAssetLibrary.save_loaded_asset(material)
    return material


def add_mesh_component(
    blueprint: unreal.Blueprint,
    mesh_path: str,
    scale: unreal.Vector,
    z_cm: float,
    material: unreal.Material,
) -> None:
    subsystem = unreal.get_engine_subsystem(unreal.SubobjectDataSubsystem)
    root = subsystem.k2_gather_subobject_data_for_blueprint(blueprint)[0]
    params = unreal.AddNewSubobjectParams(
        parent_handle=root, new_class=unreal.StaticMeshComponent, blueprint_context=blueprint
    )
    handle, failure = subsystem.add_new_subobject(params)
    if not failure.is_empty():
        raise RuntimeError(f"cannot add a mesh to {blueprint.get_name()}: {failure}")
    data = unreal.SubobjectDataBlueprintFunctionLibrary.get_data(handle)
    component = unreal.SubobjectDataBlueprintFunctionLibrary.get_object(data)
    component.set_editor_property("static_mesh", unreal.EditorAssetLibrary.load_asset(mesh_path))
    component.set_editor_property("relative_scale3d", scale)
    component.set_editor_property("relative_location", unreal.Vector(0.0, 0.0, z_cm))
    component.set_material(0, material)


def create_blueprint(entry: dict, material: unreal.MaterialInterface, blueprint: str) -> None:
    package_path, _, class_name = blueprint.rpartition("/")
    asset_name = class_name.split(".")[0]
    if unreal.EditorAssetLibrary.does_asset_exist(f"{package_path}/{asset_name}"):
        unreal.log(f"UECity: {asset_name} exists, left as it is")
        return
    factory = unreal.BlueprintFactory()
    factory.set_editor_property("parent_class", unreal.Actor)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    blueprint = tools.create_asset(asset_name, package_path, unreal.Blueprint, factory)
    length, width, height = (value * 100.0 for value in entry["size_m"])  # metres → cm
    if entry["category"] == "pedestrian":
        scale = unreal.Vector(width / 100.0, width / 100.0, height / 100.0)
        add_mesh_component(blueprint, CYLINDER_MESH, scale, height / 2.0, material)
    else:
        scale = unreal.Vector(length / 100.0, width / 100.0, height / 100.0)
        add_mesh_component(blueprint, CUBE_MESH, scale, height / 2.0, material)
    unreal.BlueprintEditorLibrary.compile_blueprint(blueprint)
    unreal.EditorAssetLibrary.save_loaded_asset(blueprint)
    unreal.log(f"UECity: created {blueprint} ({entry['category']}/{entry['type']})")


def main() -> None:
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    material = create_paint_material()
    for entry in catalog["assets"]:
        create_blueprint(entry, material, entry["blueprint"])
        if paints_by_variants(entry):
            for colour in PAINT_COLOURS:
                paint = create_paint_instance(material, colour)
                create_blueprint(entry, paint, variant_class(entry["blueprint"], colour))
    unreal.log("UECity: assets created. Now run setup_level.py (it references every class).")


if __name__ == "__main__":
    main()
