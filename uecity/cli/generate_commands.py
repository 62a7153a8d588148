"""`uecity generate`, `uecity preview` and `uecity merge`: make a dataset and look at it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from uecity.cli.options import CatalogFile, OutDir, Seed, Workers
from uecity.cli.progress_bars import progress_bars
from uecity.core.atomic import check_creatable
from uecity.core.errors import SpecError, UsageError
from uecity.core.progress import ProgressEvent

console = Console(highlight=False, stderr=True)


class Backend(StrEnum):
    sim = "sim"
    unrealcv = "unrealcv"


class Mode(StrEnum):
    puppeteer = "puppeteer"
    observe = "observe"


SpecFile = Annotated[
    Path | None,
    typer.Argument(
        help="Scene spec (YAML). Without it, the built-in default scene.", show_default=False
    ),
]


def generate(
    spec_file: SpecFile = None,
    out: OutDir = Path("data/uecity"),
    workers: Workers = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run in --out.")
    ] = False,
    seed: Seed = None,
    videos: Annotated[
        int | None, typer.Option("--videos", min=1, help="Override the spec's number of videos.")
    ] = None,
    frames: Annotated[
        int | None, typer.Option("--frames", min=1, help="Override the spec's frames per video.")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="Generate only shard i/n of the videos (e.g. 0/4)."),
    ] = None,
    backend: Annotated[
        Backend | None,
        typer.Option(
            "--backend",
            help="Renderer: the embedded `sim`, or Unreal Engine through `unrealcv` "
            "(overrides the spec's run.backend).",
        ),
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(
            "--mode",
            help="unrealcv only: `puppeteer` poses SUMO's traffic in the engine; `observe` "
            "records the traffic the engine moves itself (overrides run.mode).",
        ),
    ] = None,
    endpoint: Annotated[
        str,
        typer.Option(
            "--endpoint",
            help="HOST:PORT of the UnrealCV server, or unix:/tmp/unrealcv_PORT.socket (a Linux "
            "engine on this host) (backend unrealcv).",
        ),
    ] = "127.0.0.1:9000",
    catalog: CatalogFile = None,
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", min=0.1, help="Seconds to wait for the UnrealCV server."),
    ] = 30.0,
    request_timeout: Annotated[
        float,
        typer.Option(
            "--request-timeout", min=0.1, help="Seconds to wait for each reply of the engine."
        ),
    ] = 60.0,
) -> None:
    """Generate a dataset: SUMO traffic at a junction, rendered, with boxes and auto labels.

    With `--backend unrealcv` the same traffic is rendered in Unreal Engine 5 through UnrealCV
    (or `uecity serve-sim`); see docs/unreal.md.
    """
    from uecity.generate.run import Shard, execute_run, plan_run
    from uecity.scene.spec import load_spec

    check_creatable(out, "--out")
    try:
        spec = load_spec(spec_file).with_overrides(
            videos=videos,
            frames=frames,
            seed=seed,
            backend=backend.value if backend else None,
            mode=mode.value if mode else None,
        )
    except SpecError as error:
        if error.path is not None:
            raise  # the spec file itself
        # The spec was sound: the command line's override is what is out of range.
        option = {
            "run.videos": "--videos",
            "run.frames": "--frames",
            "run.seed": "--seed",
            "run.backend": "--backend",
            "run.mode": "--mode",
        }
        raise UsageError(f"{option.get(error.field or '', error.field)}: {error.args[0]}") from None
    unrealcv = None
    if spec.run.backend == "unrealcv":
        from uecity.unreal.backend import UnrealCvSettings
        from uecity.unreal.catalog import DEFAULT_CATALOG
        from uecity.unreal.connection import Endpoint

        unrealcv = UnrealCvSettings(
            endpoint=Endpoint.parse(endpoint),
            catalog_path=catalog or DEFAULT_CATALOG,
            connect_timeout_s=connect_timeout,
            request_timeout_s=request_timeout,
        )
    try:
        plan = plan_run(
            spec, out, workers=workers, resume=resume, shard=Shard.parse(shard), unrealcv=unrealcv
        )
        plan.resume_command = _resume_command(
            spec_file, out, workers, seed, videos, frames, shard, backend, mode, endpoint, catalog
        )
    except SpecError as error:
        if error.path is None and spec_file is not None:
            error.path = spec_file  # name the file the impossible setting came from
        raise
    if plan.resume and len(plan.pending) < len(plan.jobs):
        console.print(f"resuming: {len(plan.jobs) - len(plan.pending)} video(s) already done")
    with progress_bars(console) as report:
        for job in plan.pending:  # a bar per video from the start, in order
            report(ProgressEvent(job.video_id, 0, spec.run.frames))
        summary = execute_run(plan, report)
    console.print(
        f"[green]done[/]: {summary.videos} videos ({summary.skipped} already done), "
        f"{summary.frames} frames, {summary.objects} objects, {summary.boxes} boxes in "
        f"{summary.wall_s:.1f} s ({summary.frames_per_s:.1f} frames/s) → {out}"
    )


def _resume_command(
    spec_file: Path | None,
    out: Path,
    workers: int,
    seed: int | None,
    videos: int | None,
    frames: int | None,
    shard: str | None,
    backend: Backend | None,
    mode: Mode | None,
    endpoint: str,
    catalog: Path | None,
) -> list[str]:
    """This run's command line with --resume, paths absolute (for the run's journal)."""
    command = ["uecity", "generate"]
    if spec_file is not None:
        command.append(str(spec_file.resolve()))
    command += ["--out", str(out.resolve()), "--resume"]
    for option, value in (
        ("--workers", workers if workers != 1 else None),
        ("--seed", seed),
        ("--videos", videos),
        ("--frames", frames),
        ("--shard", shard),
        ("--backend", backend.value if backend else None),
        ("--mode", mode.value if mode else None),
        ("--endpoint", endpoint if backend == Backend.unrealcv else None),
        ("--catalog", catalog.resolve() if catalog else None),
    ):
        if value is not None:
            command += [option, str(value)]
    return command


def preview(
    dataset: Annotated[Path, typer.Argument(help="A UE-City dataset folder.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "preview.png"
    ),
    tiles: Annotated[int, typer.Option("--tiles", min=1, max=64, help="Frames to show.")] = 6,
) -> None:
    """Draw a contact sheet: sampled frames with boxes, track ids and labels."""
    from uecity.preview import contact_sheet

    check_creatable(out, "--out", folder=False)
    contact_sheet(dataset, out, tiles=tiles)
    console.print(f"wrote {out}")


def merge(
    shards: Annotated[list[Path], typer.Argument(help="Shard output folders.", show_default=False)],
    out: OutDir = Path("data/merged"),
    move: Annotated[
        bool, typer.Option("--move", help="Move the videos instead of copying them.")
    ] = False,
) -> None:
    """Join the outputs of `generate --shard i/n` into one dataset."""
    from uecity.generate.merge import merge_shards

    dataset = merge_shards(shards, out, move=move)
    console.print(f"merged {len(shards)} shard(s): {len(dataset.videos)} videos → {out}")
