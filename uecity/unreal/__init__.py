"""The Unreal Engine 5 bridge: the UnrealCV wire protocol and connection, the run's engine
session, the render backend, coordinates, assets, the paint check, observe mode, and (in
`emulator/`) the UnrealCV 5.2 plugin emulated for `uecity serve-sim`.

Everything Unreal-specific lives here, so the rest of the product speaks only the world frame
of SUMO and the camera model of `uecity.records.video`.
"""
