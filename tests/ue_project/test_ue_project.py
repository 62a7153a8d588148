"""`ue_project/` checked statically: valid files, compiling scripts, a catalog that loads."""

from __future__ import annotations

import configparser
import json
import py_compile
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
