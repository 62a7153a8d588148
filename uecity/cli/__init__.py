"""The `uecity` command line.

`app.py` holds the root command and the error-to-exit-code mapping; each other module here is
one command group whose functions are registered below, so this file is the CLI's table of
contents.
"""

from __future__ import annotations

from uecity.cli import model_commands
from uecity.cli.app import app

app.add_typer(model_commands.app, name="model")

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app(prog_name="uecity")
