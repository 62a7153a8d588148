"""The render backends by name: `sim` (embedded, the default) and `unrealcv` (Unreal Engine).

The one place that maps `run.backend` to a backend; each backend's imports (the Unreal stack)
happen only when a run uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from uecity.core.errors import SpecError
from uecity.render.protocol import RenderBackend

if TYPE_CHECKING:
    from uecity.unreal.backend import UnrealCvSettings


def build_backend(name: str, unrealcv: UnrealCvSettings | None = None) -> RenderBackend:
    """The backend `name`; `unrealcv` says where the engine is (default: local, port 9000)."""
    if name == "sim":
        from uecity.render.sim import SimBackend

        return SimBackend()
    if name == "unrealcv":
        from uecity.unreal.backend import UnrealCvSettings

        return unrealcv or UnrealCvSettings()
    raise SpecError(f"unknown backend {name!r} (known: sim, unrealcv)", field="run.backend")
