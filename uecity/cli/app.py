"""The root `uecity` command: global options, and the one place errors become exit codes."""

from __future__ import annotations

import errno
import logging
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

# Typer (>= 0.26, as pyproject requires) raises the exceptions of its own vendored copy of Click,
# not the `click` package's.
from typer._click import exceptions as click
from typer.core import TyperGroup

from uecity import __version__
from uecity.core.errors import UECityError

_stderr = Console(stderr=True, highlight=False)


# File-system refusals on the user's own paths (an --out under a file, a folder without write
# permission, a full disk): one line naming the path, exit 1, like any other user error.
_USER_OS_ERRORS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.ENOENT,
    errno.ENOSPC,
    errno.EROFS,
    errno.ENAMETOOLONG,
    errno.EDQUOT,
}
_log = logging.getLogger("uecity.cli")


def print_error(message: str, hint: str | None = None) -> None:
    """The one way the CLI reports a refusal: `error: <message>`, at most one hint line."""
    # The message is plain text: its "[field]" must not be read as rich markup.
    _stderr.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    if hint:
        _stderr.print(hint, markup=False, soft_wrap=True)


class _ErrorMappingGroup(TyperGroup):
    """Runs a command and turns a `UECityError` into its message and exit code, no traceback;
    Click's own usage errors become the same one `error:` line (and exit 2)."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except UECityError as error:
            print_error(str(error))
            raise typer.Exit(error.exit_code) from None
        except OSError as error:
            if error.errno not in _USER_OS_ERRORS or error.filename is None:
                raise
            _log.debug("file system error", exc_info=True)  # the traceback with -vv
            where = f"{error.filename} → {error.filename2}" if error.filename2 else error.filename
            print_error(f"{where}: {error.strerror}")
            raise typer.Exit(1) from None

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, *more: Any, **extra: Any
    ) -> Any:
        if extra.get("standalone_mode", True) is False:
            return super().main(args, prog_name, *more, **extra)
        extra["standalone_mode"] = False
        try:
            result = super().main(args, prog_name, *more, **extra)
        except click.NoArgsIsHelpError as error:
            error.show()  # the help text, as asked for by giving no arguments
            sys.exit(error.exit_code)
        except click.UsageError as error:
            hint = None
            if error.ctx is not None:
                hint = f"{error.ctx.get_usage()}  (see '{error.ctx.command_path} --help')"
            print_error(error.format_message(), hint)
            sys.exit(2)
        except click.ClickException as error:
            print_error(error.format_message())
            sys.exit(error.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


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
