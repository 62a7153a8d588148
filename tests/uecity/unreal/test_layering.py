"""The UnrealCV client does not depend on its emulator, and the recipe not on either backend."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _imported_after(statement: str) -> set[str]:
    """The `uecity` modules a fresh interpreter holds after running `statement`."""
    listing = "print(' '.join(m for m in sys.modules if m.startswith('uecity')))"
    code = f"{statement}\nimport sys\n{listing}"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import uecity.unreal.backend, uecity.unreal.observe, uecity.unreal.connection",
        "from uecity.cli import app",
    ],
)
def test_the_client_and_the_cli_do_not_import_the_emulator(statement: str) -> None:
    modules = _imported_after(statement)
    assert "uecity.unreal.backend" in modules or "uecity.cli" in modules
    assert not {m for m in modules if m.startswith("uecity.unreal.emulator")}


def test_the_recipe_imports_no_backend() -> None:
    """The worker knows backends only through `uecity.render.protocol`: the sim renderer and the
    Unreal stack load when a run builds its backend, not with the recipe."""
    modules = _imported_after("import uecity.generate.worker, uecity.generate.run")
    assert "uecity.render.protocol" in modules
    assert not {m for m in modules if m.startswith("uecity.unreal")}
    assert "uecity.render.sim" not in modules
