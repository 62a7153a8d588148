"""UE editor script: create the paint material and the spawnable Blueprints of the catalog.

Run inside the Unreal Editor (Tools ▸ Execute Python Script…, or
`UnrealEditor UECity.uproject -run=pythonscript -script=Scripts/create_assets.py`).
It reads `asset_catalog.yaml` beside this folder and, for each entry, creates a Blueprint
actor at the catalog's path with a static mesh scaled to the entry's size and the shared
paint material `M_UECityPaint` (a `PaintColor` vector parameter into Base Color).

Python cannot author Blueprint graphs, so each Blueprint's paint function (named in the
catalog, e.g. `SetPaintColor(R, G, B)`) is added by hand once: see README.md, step 4. Replace
the placeholder meshes with real vehicle meshes whenever you like: keep the Blueprint paths
and the paint function, and update `size_m` in the catalog.
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
MATERIAL_PATH = "/Game/UECity/Materials"
MATERIAL_NAME = "M_UECityPaint"
CUBE_MESH = "/Engine/BasicShapes/Cube.Cube"  # 100 cm on each side
CYLINDER_MESH = "/Engine/BasicShapes/Cylinder.Cylinder"  # 100 cm across, 100 cm high


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


def create_blueprint(entry: dict, material: unreal.Material) -> None:
    package_path, _, class_name = entry["blueprint"].rpartition("/")
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
    unreal.log(f"UECity: created {entry['blueprint']} ({entry['category']}/{entry['type']})")


def main() -> None:
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    material = create_paint_material()
    for entry in catalog["assets"]:
        create_blueprint(entry, material)
    unreal.log(
        "UECity: assets created. Add each Blueprint's paint function by hand (README, step 4)."
    )


if __name__ == "__main__":
    main()
