"""`uecity annotate`: start the browser annotation tool for a dataset's motion intervals."""

from __future__ import annotations

import logging
import signal
import webbrowser
from types import FrameType
from typing import Annotated

import typer

from uecity.cli.options import DatasetDir
from uecity.core.errors import UsageError
from uecity.dataset import Dataset

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
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another name this server may be reached under (its Host header), e.g. a "
            "reverse proxy's; repeatable. Requests naming any other host are refused.",
        ),
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Don't open a browser; just print the URL.")
    ] = False,
) -> None:
    """Mark motion intervals by clicking boxes in the browser, and review the automatic ones.

    Serves the dataset at http://HOST:PORT/ until Ctrl+C. Every change is saved to the video's
    motion.json at once, with a revision number; a save based on a stale copy is refused.
    """
    from annotator.server import LOOPBACK_HOSTS, serve  # the web tool: imported on use

    opened = Dataset.open(dataset)
    if video is not None:
        opened.video(video)  # a DatasetError naming the known videos if it is not one
    elif not opened.videos:
        raise UsageError(f"{dataset} has no videos to annotate")
    try:
        server = serve(opened, host=host, port=port, allow_hosts=allow_host or ())
    except OSError as error:
        raise UsageError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port (or "
            "--host: an address of this machine)"
        ) from None
    previous = _stop_on_signals()  # before the URL is printed: whoever reads it may stop us
    try:
        url = server.url + (f"#video={video}" if video else "")
        typer.echo(f"Annotating {dataset} at {url}  (Ctrl+C to stop)")
        if host not in LOOPBACK_HOSTS:
            typer.echo(
                f"warning: serving on {host}: other machines can read and change this dataset. "
                "Requests must name one of these hosts: "
                f"{', '.join(sorted(server.allowed_hosts))} (add others with --allow-host)",
                err=True,
            )
        if not no_browser:
            webbrowser.open(url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        cut = server.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo("stopped" + (f" ({cut} requests were cut off)" if cut else ""))


def _stop_on_signals() -> dict[int, object]:
    """Ctrl+C (SIGINT) and SIGTERM stop the server, even where the parent started us with
    SIGINT ignored (a job started with `&` from a script, some CI runners): Python keeps an
    inherited SIG_IGN, and the server would then never stop on Ctrl+C."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
