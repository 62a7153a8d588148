"""`mlstrack` stands on the shared foundation only: of `uecity` it imports `uecity.core` (errors,
atomic writes, typed records, box formats, progress) and `uecity.formats` (other tools' file
conventions), never the dataset, the CLI or any other part of the product. And the core stands
alone: it imports nothing of `uecity` outside itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mlstrack
import uecity.core

ALLOWED = ("uecity.core", "uecity.formats")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from uecity import x` imports the module uecity.x (or a name of uecity itself)
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [
                (node.lineno, name if node.module == "uecity" else node.module) for name in names
            ]
    return found


def _violations(package: Path, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted(package.rglob("*.py")):
        for line, module in _imported_modules(path):
            if module.partition(".")[0] != "uecity":
                continue
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(package.parent)}:{line}: imports {module}")
    return bad


def test_mlstrack_imports_only_the_core_and_the_formats_of_uecity() -> None:
    assert _violations(Path(mlstrack.__file__).parent, ALLOWED) == []


def test_the_core_imports_nothing_else_of_uecity() -> None:
    assert _violations(Path(uecity.core.__file__).parent, ("uecity.core",)) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from uecity.dataset import Dataset\n", ["x.py:1: imports uecity.dataset"]),
        ("import uecity.cli.app\n", ["x.py:1: imports uecity.cli.app"]),
        ("def f():\n    from uecity import validate\n", ["x.py:2: imports uecity.validate"]),
        ("from uecity.core.errors import UsageError\nfrom uecity.formats import mot\n", []),
        ("import numpy\nfrom . import sibling\n", []),
    ],
)
def test_the_check_sees_every_form_of_import(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "x.py").write_text(source)
    assert [v.removeprefix("pkg/") for v in _violations(package, ALLOWED)] == expected
