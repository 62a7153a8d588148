"""Arguments and options shared by several commands, declared once as `Annotated` aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DatasetDir = Annotated[
    Path,
    typer.Argument(
        metavar="DATASET",
        help="A UE-City dataset folder (the one holding dataset.json).",
        show_default=False,
    ),
]

OutDir = Annotated[
    Path,
    typer.Option("--out", "-o", help="Output folder.", show_default=False),
]

Seed = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of the run; overrides the spec's seed.", min=0),
]

Workers = Annotated[
    int,
    typer.Option("--workers", "-j", help="Worker processes.", min=1),
]

CatalogFile = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="Unreal asset catalog YAML: the assets to spawn, and observe mode's name rules "
        "(default: ue_project/asset_catalog.yaml).",
        show_default=False,
    ),
]
