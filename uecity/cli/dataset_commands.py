"""Commands about a dataset as a whole: `validate`, `info`, `schemas`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from uecity.cli.options import DatasetDir
from uecity.core.errors import ValidationFailed
from uecity.dataset import Dataset
from uecity.schemas import stale_schemas, write_schemas
from uecity.validate import validate_dataset

console = Console(highlight=False, soft_wrap=True)


def validate(
    dataset: DatasetDir,
    frames: Annotated[
        bool,
        typer.Option(
            "--frames/--no-frames",
            help="Check every frame file's size and completeness (reads headers only).",
        ),
    ] = True,
) -> None:
    """Check a whole dataset and list every problem with its file and location.

    Exit code 0 when the dataset is clean, 5 when problems were found.
    """
    report = validate_dataset(dataset, check_frame_files=frames)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    for problem in report.problems:
        console.print(str(problem), markup=False, soft_wrap=True)
    summary = (
        f"{report.videos} videos, {report.frames} frames, {report.objects} objects, "
        f"{report.boxes} boxes, {report.intervals} motion intervals, "
        f"{report.expressions} expressions"
    )
    if report.problems:
        count = len(report.problems)
        raise ValidationFailed(
            f"{count} problem{'s' if count != 1 else ''} in {dataset} ({summary})"
        )
    console.print(f"[green]OK[/]: {dataset} is a valid UE-City dataset ({summary})")


def info(dataset: DatasetDir) -> None:
    """Summarise a dataset: its videos, splits and how it was made."""
    opened = Dataset.open(dataset)
    manifest = opened.manifest
    console.print(
        f"[bold]{manifest.name}[/] (format {manifest.format_version}, made by "
        f"{manifest.generator.name} {manifest.generator.version}, seed {manifest.seed})"
    )
    table = Table("video", "frames", "size", "fps", "backend", "objects", "expressions")
    for video_id in opened.videos:
        video = opened.video(video_id)
        video_info = video.info
        table.add_row(
            video_id,
            str(video_info.num_frames),
            f"{video_info.width}x{video_info.height}",
            f"{video_info.fps:g}",
            video_info.backend,
            str(len(video.objects())),
            str(len(video.expression_ids())),
        )
    console.print(table)
    for split, members in manifest.splits.items():
        console.print(f"split [bold]{split}[/]: {', '.join(members)}")


def schemas(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the JSON Schema files into.")
    ] = Path("schemas"),
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the folder is up to date.")
    ] = False,
) -> None:
    """Write the JSON Schema of every on-disk record (or check them with --check)."""
    if check:
        stale = stale_schemas(out)
        if stale:
            raise ValidationFailed(
                f"out of date: {', '.join(stale)} (run `uecity schemas --out {out}`)", path=out
            )
        console.print(f"[green]OK[/]: {out} is up to date")
        return
    for path in write_schemas(out):
        console.print(f"wrote {path}")
