"""The CLI's one way to draw progress: a rich bar per task of `ProgressEvent`s.

Every producer (generation, training, calibration, tracking) reports through
`uecity.core.progress.ProgressFn`; `progress_bars` is the callback that draws them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from uecity.core.progress import ProgressEvent, ProgressFn


@contextlib.contextmanager
def progress_bars(console: Console, *, enabled: bool = True) -> Iterator[ProgressFn]:
    """A `ProgressFn` that draws one bar per task (in the order tasks first report), with the
    event's item and values beside it; `enabled=False` draws nothing."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not enabled, transient=False) as bars:
        tasks: dict[str, TaskID] = {}

        def show(event: ProgressEvent) -> None:
            if event.task not in tasks:
                tasks[event.task] = bars.add_task(event.task, total=event.total, status="")
            bars.update(
                tasks[event.task], completed=event.done, total=event.total, status=event.describe()
            )

        yield show
