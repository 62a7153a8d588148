"""`uecity model`: look at the MLS-Track model: parameter counts, a fresh checkpoint folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from uecity.cli.options import OutDir, Seed
from uecity.core.errors import MissingDependencyError, UsageError

app = typer.Typer(
    help="The MLS-Track model: parameter counts and checkpoint folders.",
    no_args_is_help=True,
)

Preset = Annotated[
    str,
    typer.Option(
        "--preset",
        help="tiny (CPU tests and demos), paper (pretrained parts, downloaded by hub name or "
        "read from a local path) or paper-random (the paper's sizes, random weights).",
    ),
]
Variant = Annotated[
    str,
    typer.Option("--variant", help="Table 3 row: transrmot, sgm or sgm_scb (MLS-Track)."),
]


def _config(preset: str, variant: str):
    try:
        import torch  # noqa: F401

        from mlstrack.config import PRESETS, VARIANTS, MLSTrackConfig
    except ImportError as error:  # torch missing
        raise MissingDependencyError(
            f"the model needs the `model` extra (pip install 'uecity[model]'): {error}"
        ) from error
    if variant not in VARIANTS:
        raise UsageError(f"--variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if preset not in PRESETS:
        raise UsageError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    return MLSTrackConfig.preset(preset, variant=variant)


@app.command()
def summary(preset: Preset = "tiny", variant: Variant = "sgm_scb") -> None:
    """Trainable and frozen parameters per component, and the rows of the paper's Table 3."""
    config = _config(preset, variant)  # first: it says how to install torch when it is missing
    from mlstrack.summary import PAPER_TABLE3_MILLIONS, component_counts, table3_counts

    if preset == "paper":  # counts depend on the architectures only: no weights are loaded
        config = _config("paper-random", variant)
    console = Console(highlight=False)
    table = Table(title=f"MLS-Track parameters ({preset}, {variant})")
    table.add_column("component")
    table.add_column("trainable", justify="right")
    table.add_column("frozen", justify="right")
    rows = component_counts(config)
    for row in rows:
        table.add_row(row.component, f"{row.trainable:,}", f"{row.frozen:,}")
    table.add_row(
        "total",
        f"{sum(r.trainable for r in rows):,}",
        f"{sum(r.frozen for r in rows):,}",
        style="bold",
    )
    console.print(table)
    rows3 = Table(title="Table 3 rows: trainable parameters")
    rows3.add_column("variant")
    rows3.add_column("ours", justify="right")
    rows3.add_column("paper", justify="right")
    for name, count in table3_counts(config).items():
        paper = f"{PAPER_TABLE3_MILLIONS[name]:.1f}M" if preset != "tiny" else "–"
        rows3.add_row(name, f"{count / 1e6:.3f}M", paper)
    console.print(rows3)


@app.command()
def init(
    out: OutDir,
    preset: Preset = "tiny",
    variant: Variant = "sgm_scb",
    seed: Seed = 0,
) -> None:
    """Write a model of the preset as a checkpoint folder (config.json + safetensors): random
    weights for tiny and paper-random, the pretrained parts for paper (with random heads)."""
    config = _config(preset, variant)  # first: it says how to install torch when it is missing
    import torch

    from mlstrack.checkpoint import save_pretrained
    from mlstrack.model import MLSTrack

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    torch.manual_seed(seed or 0)
    folder = save_pretrained(MLSTrack(config), Path(out))
    typer.echo(f"wrote {folder} ({preset}, {variant})")
