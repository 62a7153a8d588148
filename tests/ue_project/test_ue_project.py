"""`ue_project/` checked statically: valid files, compiling scripts, a catalog that loads."""

from __future__ import annotations

import ast
import configparser
import json
import py_compile
import re
import types
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "ue_project"


def test_uproject_enables_unrealcv_and_python() -> None:
    project = json.loads((PROJECT / "UECity.uproject").read_text())
    enabled = {p["Name"] for p in project["Plugins"] if p["Enabled"]}
    assert {"UnrealCV", "PythonScriptPlugin", "EditorScriptingUtilities"} <= enabled
    assert project["EngineAssociation"].startswith("5.")


def test_unrealcv_ini_has_the_core_section() -> None:
    config = configparser.ConfigParser(inline_comment_prefixes=(";",))
    config.read(PROJECT / "unrealcv.ini")
    core = config["UnrealCV.Core"]
    assert core.getint("Port") == 9000
    assert core.getint("Width") > 0 and core.getint("Height") > 0


def test_engine_config_disables_what_spoils_masks() -> None:
    text = (PROJECT / "Config" / "DefaultEngine.ini").read_text()
    for setting in ("r.DefaultFeature.MotionBlur=False", "r.DefaultFeature.AutoExposure=False"):
        assert setting in text


@pytest.mark.parametrize("script", sorted(p.name for p in (PROJECT / "Scripts").glob("*.py")))
def test_editor_scripts_compile(script: str, tmp_path: Path) -> None:
    py_compile.compile(
        str(PROJECT / "Scripts" / script), cfile=str(tmp_path / "out.pyc"), doraise=True
    )


def test_readme_names_the_unrealcv_branch_and_both_platforms() -> None:
    text = (PROJECT / "README.md").read_text()
    assert "branch **`5.2`**" in text
    assert "Linux" in text and "Windows" in text


def _calls(script: str, name: str) -> list[ast.Call]:
    tree = ast.parse((PROJECT / "Scripts" / script).read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == name]


@pytest.mark.parametrize("script", ["setup_level.py", "create_assets.py"])
def test_every_rotator_names_its_axes(script: str) -> None:
    """`unreal.Rotator(roll, pitch, yaw)`: positional angles put the sun's pitch into roll."""
    for call in _calls(script, "unreal.Rotator"):
        assert not call.args and {k.arg for k in call.keywords} == {"roll", "pitch", "yaw"}


def test_the_ground_top_is_at_z_zero_and_the_sun_points_down() -> None:
    spawns = _calls("setup_level.py", "spawn")
    placed = {ast.unparse(c.args[0]): c for c in spawns}
    ground = placed["unreal.StaticMeshActor"]
    assert ast.unparse(ground.args[1]) == "unreal.Vector(0.0, 0.0, 0.0)"  # the plane is flat
    sun = {
        k.arg: ast.literal_eval(k.value) for k in placed["unreal.DirectionalLight"].args[2].keywords
    }
    assert sun["pitch"] < 0 and sun["roll"] == 0


def test_the_level_references_every_catalog_class_and_packaging_cooks_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """UnrealCV's spawn finds only loaded classes; a packaged game has only cooked ones."""
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "unreal", types.ModuleType("unreal"))  # editor-only
    monkeypatch.syspath_prepend(str(PROJECT / "Scripts"))
    create_assets = importlib.import_module("create_assets")
    from uecity.scene.spec import COLOURS
    from uecity.unreal.catalog import load_catalog

    assert create_assets.PAINT_COLOURS == COLOURS
    catalog = load_catalog(PROJECT / "asset_catalog.yaml")
    ours = sorted(p for asset in catalog.assets for p in asset.classes())
    assert sorted(create_assets.catalog_classes()) == ours  # what the level references
    assert all(a.paint_mode == "variants" for a in catalog.assets)  # no console needed
    assert "reference_catalog_classes()" in (PROJECT / "Scripts/setup_level.py").read_text()
    game = (PROJECT / "Config" / "DefaultGame.ini").read_text()
    cooked = re.findall(r'\+DirectoriesToAlwaysCook=\(Path="([^"]+)"\)', game)
    assert all(any(p.startswith(c + "/") for c in cooked) for p in ours)


def test_packaged_games_get_object_masks() -> None:
    """The plugin's packaging guide: `r.ForceDebugViewModes=1`."""
    config = configparser.ConfigParser(strict=False)
    config.optionxform = str  # type: ignore[assignment,method-assign]
    config.read(PROJECT / "Config" / "DefaultEngine.ini")
    assert config["SystemSettings"]["r.ForceDebugViewModes"] == "1"


def test_readme_says_where_unrealcv_ini_goes_and_what_packaging_needs() -> None:
    text = (PROJECT / "README.md").read_text()
    assert "Engine/Binaries/Linux/" in text and "UECity/Binaries/Linux/" in text
    assert "Python3\\Win64\\python.exe" in text  # the Windows editor's Python
    assert "C++ toolchain" in text and "Visual Studio" in text
    assert "unix:/tmp/unrealcv_9000.socket" in text
