"""Commands about language and what is made from it: `compose`, `export`, `stats`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from uecity.cli.options import DatasetDir, OutDir, Seed, Workers
from uecity.core.atomic import check_creatable
from uecity.core.errors import UsageError
from uecity.core.record_io import validation_message
from uecity.dataset import Dataset
from uecity.export import FORMATS, VIDEO_NAMINGS, export_dataset
from uecity.language.compose import SplitConfig, compose_dataset
from uecity.language.composition import CompositionConfig
from uecity.language.vocabulary import load_vocabulary
from uecity.stats.report import write_stats

console = Console(highlight=False)

VocabularyFile = Annotated[
    Path | None,
    typer.Option(
        "--vocabulary",
        help="Vocabulary YAML (default: the shipped one; `extends: default` adds to it).",
        show_default=False,
    ),
]
VideoSubset = Annotated[
    list[str] | None,
    typer.Option("--video", help="Only this video (repeatable).", show_default=False),
]


def _config(model, **values):  # type: ignore[no-untyped-def]
    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        raise UsageError(validation_message(error)[1]) from None


def compose(
    dataset: DatasetDir,
    vocabulary: VocabularyFile = None,
    seed: Seed = None,
    expressions_per_video: Annotated[
        int, typer.Option("--expressions-per-video", "-n", min=1, help="Target per video.")
    ] = 50,
    min_objects: Annotated[
        int,
        typer.Option(
            "--min-objects",
            min=1,
            help="Drop expressions referring to fewer tracks over the video.",
        ),
    ] = 2,
    max_objects: Annotated[
        int | None,
        typer.Option(
            "--max-objects",
            min=1,
            help="Drop those referring to more (near-'everything' sets refer to nothing).",
        ),
    ] = 40,
    min_frames: Annotated[
        int,
        typer.Option(
            "--min-frames", min=1, help="Drop expressions with referents on fewer frames."
        ),
    ] = 10,
    max_modifiers: Annotated[
        int, typer.Option("--max-modifiers", min=0, max=4, help="Atoms ANDed to a noun.")
    ] = 2,
    or_fraction: Annotated[
        float, typer.Option("--or-fraction", min=0.0, max=1.0, help="Share of OR expressions.")
    ] = 0.2,
    test_videos: Annotated[
        str | None, typer.Option("--test-videos", help="Comma-separated test videos.")
    ] = None,
    test_fraction: Annotated[
        float,
        typer.Option(
            "--test-fraction",
            min=0.0,
            max=0.99,
            help="Else this share of the videos, chosen by the seed.",
        ),
    ] = 0.2,
    shared_pool: Annotated[
        bool,
        typer.Option(
            "--shared-pool/--no-shared-pool",
            help="Draw the test videos' expressions from the training videos' ones (as "
            "Refer-KITTI's test sentences occur in training).",
        ),
    ] = False,
    videos: VideoSubset = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Print this many sentences.")] = 5,
    workers: Workers = os.cpu_count() or 1,
) -> None:
    """Compose referring expressions from language elements (AND / OR) and write them.

    Replaces the expressions of an earlier compose run; hand-written ones are kept.
    """
    opened = Dataset.open(dataset)
    config = _config(
        CompositionConfig,
        expressions_per_video=expressions_per_video,
        min_objects=min_objects,
        max_objects=max_objects,
        min_frames=min_frames,
        max_modifiers=max_modifiers,
        or_fraction=or_fraction,
    )
    split = _config(
        SplitConfig,
        test_videos=[v.strip() for v in test_videos.split(",") if v.strip()]
        if test_videos
        else None,
        test_fraction=test_fraction,
        shared_pool=shared_pool,
    )
    run_seed = seed if seed is not None else (opened.manifest.seed or 0)
    report = compose_dataset(
        opened,
        load_vocabulary(vocabulary),
        config,
        seed=run_seed,
        split=split,
        videos=videos,
        workers=workers,
    )
    for video_id, expressions in report.expressions.items():
        console.print(f"{video_id}: {len(expressions)} expressions")
        for expression in expressions[:show]:
            console.print(f"  {expression.sentence}", markup=False)
    console.print(
        f"[green]wrote[/] {report.total} expressions (removed {report.removed} stale); "
        f"train: {', '.join(report.splits['train']) or '-'}; "
        f"test: {', '.join(report.splits['test']) or '-'}"
    )
    if report.splits["test"]:
        console.print(f"test sentences seen in training: {report.test_overlap().describe()}")


def export(
    dataset: DatasetDir,
    out: OutDir,
    export_format: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")
    ] = "refer-kitti",
    workers: Workers = os.cpu_count() or 1,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty folder that is not ours.")
    ] = False,
    video_names: Annotated[
        str,
        typer.Option(
            "--video-names",
            help="Refer-KITTI video folders: 'native' (the dataset's video ids) or "
            "'refer-kitti' (0000, 0001, ... in dataset order, as TransRMOT expects; "
            "native_ids.json maps them back).",
        ),
    ] = "native",
) -> None:
    """Export the dataset: the Refer-KITTI tree, MOTChallenge gt per expression, or CVAT XML.

    Files already up to date from an earlier export into the same folder are skipped.
    """
    if export_format not in FORMATS:
        raise UsageError(f"unknown --format '{export_format}' (known: {', '.join(FORMATS)})")
    check_creatable(out, "--out")
    if video_names not in VIDEO_NAMINGS:
        raise UsageError(
            f"unknown --video-names '{video_names}' (known: {', '.join(VIDEO_NAMINGS)})"
        )
    summary = export_dataset(
        Dataset.open(dataset),
        out,
        export_format,
        workers=workers,
        force=force,
        video_names=video_names,
    )
    for note in summary.notes:
        console.print(f"[yellow]note[/]: {note}")
    console.print(
        f"[green]exported[/] {export_format} to {out}: {summary.written} written, "
        f"{summary.skipped} up to date, {summary.removed} removed ({summary.seconds:.1f} s)"
    )


def stats(
    dataset: DatasetDir,
    out: OutDir,
    videos: VideoSubset = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Only the videos of this split.")
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNGs.")] = True,
) -> None:
    """The paper's Table 1 row and Fig. 3: stats.json, stats.md and PNG plots in --out."""
    check_creatable(out, "--out")
    opened = Dataset.open(dataset)
    selected = videos or (opened.split(split) if split else None)
    report = write_stats(opened, out, videos=selected, plots=plots)
    console.print(
        (out / "stats.md").read_text(encoding="utf-8").split("\n- videos")[0], markup=False
    )
    if report.overlap is not None:
        console.print(f"train/test: {report.overlap.describe()}", markup=False)
    console.print(f"[green]wrote[/] {len(report.files)} files to {out}")
