"""The `uecity` command line.

`app.py` holds the root command and the error-to-exit-code mapping; each other module here is
one command group whose functions are registered below, so this file is the CLI's table of
contents.
"""

from __future__ import annotations

from uecity.cli import (
    annotate_commands,
    dataset_commands,
    generate_commands,
    language_commands,
    mlstrack_commands,
    model_commands,
    unreal_commands,
)
from uecity.cli.app import app

__all__ = ["app", "main"]

app.command("validate")(dataset_commands.validate)
app.command("info")(dataset_commands.info)
app.command("schemas")(dataset_commands.schemas)
app.command("generate")(generate_commands.generate)
app.command("preview")(generate_commands.preview)
app.command("merge")(generate_commands.merge)
app.command("serve-sim")(unreal_commands.serve_sim)
app.command("annotate")(annotate_commands.annotate)
app.command("compose")(language_commands.compose)
app.command("export")(language_commands.export)
app.command("stats")(language_commands.stats)
app.add_typer(model_commands.app, name="model")
app.command("train")(mlstrack_commands.train)
app.command("calibrate")(mlstrack_commands.calibrate)
app.command("track")(mlstrack_commands.track)
app.command("evaluate")(mlstrack_commands.evaluate)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="uecity")
