"""The Unreal Engine 5 bridge: the UnrealCV wire protocol, coordinates, assets and mask colours.

Everything Unreal-specific lives here, so the rest of the product speaks only the world frame
of SUMO and the camera model of `uecity.records.video`.
"""
