"""UE editor script: create the level uecity records in, `/Game/UECity/Maps/Intersection`.

A flat ground (the SUMO network's z = 0 plane; the world origin is the junction's centre),
sun, sky light and atmosphere. uecity spawns every vehicle and pedestrian itself and places
the cameras from the scene spec, so the level needs nothing else; for realistic frames, build
your city around the origin (or open your own level and keep the origin at the junction).
"""

from __future__ import annotations

import unreal  # type: ignore[import-not-found]  # only inside the Unreal Editor

LEVEL = "/Game/UECity/Maps/Intersection"
GROUND_SIZE_M = 600.0


def spawn(actor_class: type, location: unreal.Vector, rotation: unreal.Rotator) -> unreal.Actor:
    actors = unreal.get_editor_subsystem(unreal.EditorActorSubsystem)
    return actors.spawn_actor_from_class(actor_class, location, rotation)


def main() -> None:
    levels = unreal.get_editor_subsystem(unreal.LevelEditorSubsystem)
    if unreal.EditorAssetLibrary.does_asset_exist(LEVEL):
        levels.load_level(LEVEL)
        unreal.log(f"UECity: {LEVEL} exists, opened it")
        return
    levels.new_level(LEVEL)
    ground = spawn(unreal.StaticMeshActor, unreal.Vector(0, 0, -5), unreal.Rotator(0, 0, 0))
    ground.static_mesh_component.set_static_mesh(
        unreal.EditorAssetLibrary.load_asset("/Engine/BasicShapes/Plane.Plane")
    )
    ground.set_actor_scale3d(unreal.Vector(GROUND_SIZE_M, GROUND_SIZE_M, 1.0))  # 1 m planes
    ground.set_actor_label("Ground")
    sun = spawn(unreal.DirectionalLight, unreal.Vector(0, 0, 3000), unreal.Rotator(-40, 30, 0))
    sun.set_actor_label("Sun")
    spawn(unreal.SkyLight, unreal.Vector(0, 0, 500), unreal.Rotator(0, 0, 0))
    spawn(unreal.SkyAtmosphere, unreal.Vector(0, 0, 0), unreal.Rotator(0, 0, 0))
    spawn(unreal.PlayerStart, unreal.Vector(-3000, 0, 1500), unreal.Rotator(-25, 0, 0))
    levels.save_current_level()
    unreal.log(f"UECity: created {LEVEL}")


if __name__ == "__main__":
    main()
