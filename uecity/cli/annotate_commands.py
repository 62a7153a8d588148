"""`uecity annotate`: start the browser annotation tool for a dataset's motion intervals."""

from __future__ import annotations

import logging
import webbrowser
from typing import Annotated

import typer

from uecity.cli.options import DatasetDir
from uecity.dataset import Dataset
from uecity.errors import UsageError

logger = logging.getLogger(__name__)


def annotate(
    dataset: DatasetDir,
    video: Annotated[
        str | None, typer.Option("--video", help="Open this video first (default: the first).")
    ] = None,
    port: Annotated[
        int,
        typer.Option("--port", "-p", help="Port to serve on (0: any free port).", min=0, max=65535),
    ] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to bind. The default serves this machine only; anything else lets "
            "other machines read and change the dataset.",
        ),
    ] = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Don't open a browser; just print the URL.")
    ] = False,
) -> None:
    """Mark motion intervals by clicking boxes in the browser, and review the automatic ones.

    Serves the dataset at http://HOST:PORT/ until Ctrl+C. Every change is saved to the video's
    motion.json at once, with a revision number; a save based on a stale copy is refused.
    """
    from annotator.server import serve  # the web tool is its own package; import it on use

    opened = Dataset.open(dataset)
    if video is not None:
        opened.video(video)  # a DatasetError naming the known videos if it is not one
    elif not opened.videos:
        raise UsageError(f"{dataset} has no videos to annotate")
    try:
        server = serve(opened, host=host, port=port)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port"
        ) from None
    url = server.url + (f"#video={video}" if video else "")
    typer.echo(f"Annotating {dataset} at {url}  (Ctrl+C to stop)")
    if host not in {"127.0.0.1", "localhost", "::1"}:
        typer.echo(f"warning: serving on {host}: other machines can change this dataset", err=True)
    if not no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
