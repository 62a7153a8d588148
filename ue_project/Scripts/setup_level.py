"""UE editor script: create the level uecity records in, `/Game/UECity/Maps/Intersection`.

A flat ground whose top is the SUMO network's z = 0 plane (the world origin is the junction's
centre), sun, sky light and atmosphere, and one hidden, collision-free instance of every class
of the asset catalog far below the ground. Those instances are why spawning works: UnrealCV's
`vset /objects/spawn` only *finds* a class already in memory (it never loads one), and a class
the level references is loaded with the level and cooked into a packaged game. uecity spawns
every vehicle and pedestrian itself and places the cameras from the scene spec, so the level
needs nothing else; for realistic frames, build your city around the origin.

`unreal.Rotator` takes (roll, pitch, yaw) in that order: every rotator here is built with
keywords so that no angle lands in the wrong axis.
"""

from __future__ import annotations

import sys
from pathlib import Path

import unreal  # type: ignore[import-not-found]  # only inside the Unreal Editor

sys.path.insert(0, str(Path(__file__).resolve().parent))  # create_assets.py is beside this file
from create_assets import catalog_classes  # type: ignore[import-not-found]

LEVEL = "/Game/UECity/Maps/Intersection"
GROUND_SIZE_M = 600.0
PRELOAD_Z_CM = -100000.0  # 1 km under the ground: never seen, never in a mask
PRELOAD_LABEL = "UECityPreload"


def spawn(actor_class: type, location: unreal.Vector, rotation: unreal.Rotator) -> unreal.Actor:
    actors = unreal.get_editor_subsystem(unreal.EditorActorSubsystem)
    return actors.spawn_actor_from_class(actor_class, location, rotation)


def reference_catalog_classes() -> int:
    """One hidden instance of each catalog class (base and colour variants) in the level."""
    placed = 0
    for path in catalog_classes():
        blueprint_class = unreal.EditorAssetLibrary.load_blueprint_class(path.rpartition(".")[0])
        if blueprint_class is None:
            unreal.log_error(f"UECity: {path} does not exist; run create_assets.py first")
            continue
        where = unreal.Vector(100.0 * placed, 0.0, PRELOAD_Z_CM)
        actor = spawn(blueprint_class, where, unreal.Rotator(roll=0.0, pitch=0.0, yaw=0.0))
        actor.set_actor_hidden_in_game(True)
        actor.set_actor_enable_collision(False)
        actor.set_actor_label(f"{PRELOAD_LABEL}_{path.rpartition('.')[2]}")
        actor.set_folder_path(PRELOAD_LABEL)
        placed += 1
    return placed


def main() -> None:
    levels = unreal.get_editor_subsystem(unreal.LevelEditorSubsystem)
    if unreal.EditorAssetLibrary.does_asset_exist(LEVEL):
        levels.load_level(LEVEL)
        unreal.log(f"UECity: {LEVEL} exists, opened it (delete it to build it again)")
        return
    levels.new_level(LEVEL)
    # /Engine/BasicShapes/Plane is 100 cm square and flat at its pivot: the top is at Z = 0.
    ground = spawn(unreal.StaticMeshActor, unreal.Vector(0.0, 0.0, 0.0),
                   unreal.Rotator(roll=0.0, pitch=0.0, yaw=0.0))  # fmt: skip
    ground.static_mesh_component.set_static_mesh(
        unreal.EditorAssetLibrary.load_asset("/Engine/BasicShapes/Plane.Plane")
    )
    ground.set_actor_scale3d(unreal.Vector(GROUND_SIZE_M, GROUND_SIZE_M, 1.0))  # 1 m planes
    ground.set_actor_label("Ground")
    # The sun shines down (negative pitch) from the south-west.
    sun = spawn(unreal.DirectionalLight, unreal.Vector(0.0, 0.0, 3000.0),
                unreal.Rotator(roll=0.0, pitch=-40.0, yaw=30.0))  # fmt: skip
    sun.set_actor_label("Sun")
    spawn(
        unreal.SkyLight,
        unreal.Vector(0.0, 0.0, 500.0),
        unreal.Rotator(roll=0.0, pitch=0.0, yaw=0.0),
    )
    spawn(unreal.SkyAtmosphere, unreal.Vector(0.0, 0.0, 0.0),
          unreal.Rotator(roll=0.0, pitch=0.0, yaw=0.0))  # fmt: skip
    # The player (UnrealCV camera 0) looks down at the junction from the west.
    spawn(unreal.PlayerStart, unreal.Vector(-3000.0, 0.0, 1500.0),
          unreal.Rotator(roll=0.0, pitch=-25.0, yaw=0.0))  # fmt: skip
    placed = reference_catalog_classes()
    levels.save_current_level()
    unreal.log(f"UECity: created {LEVEL} referencing {placed} catalog classes")


if __name__ == "__main__":
    main()
