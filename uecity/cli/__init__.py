"""The `uecity` command line: one module per command group, joined here."""

from __future__ import annotations

from uecity.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app(prog_name="uecity")
