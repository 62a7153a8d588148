"""The root `uecity` command: global options, and the one place errors become exit codes."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from uecity import __version__
from uecity.errors import UECityError

_stderr = Console(stderr=True, highlight=False)


class _ErrorMappingGroup(TyperGroup):
    """Runs a command and turns a `UECityError` into its message and exit code, no traceback."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except UECityError as error:
            # The message is plain text: its "[field]" must not be read as rich markup.
            _stderr.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    name="uecity",
    cls=_ErrorMappingGroup,
    help=(
        "UE-City builds referring multi-object tracking (RMOT) datasets of city intersections "
        "and trains the MLS-Track model on them.\n\n"
        "A dataset is a folder: `dataset.json` plus one folder per video with frames, boxes, "
        "objects and motion intervals. Every command that reads one checks it first; "
        "`uecity validate DIR` lists every problem it finds."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"uecity {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v, -vv).")
    ] = 0,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
