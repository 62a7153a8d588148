"""`uecity stats`: write the statistics as JSON, Markdown and PNG plots into one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uecity.atomic_write import atomic_write_json, atomic_write_text
from uecity.dataset import Dataset
from uecity.stats.plots import write_plots
from uecity.stats.table1 import DatasetStats, dataset_stats, markdown


@dataclass(frozen=True)
class StatsReport:
    stats: DatasetStats
    files: list[Path]


def write_stats(
    dataset: Dataset, out: Path, *, videos: list[str] | None = None, plots: bool = True
) -> StatsReport:
    """Compute the statistics and write `stats.json`, `stats.md` and the Fig. 3 plots."""
    stats = dataset_stats(dataset, videos)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "stats.json", out / "stats.md"]
    atomic_write_json(files[0], stats.to_json())
    atomic_write_text(files[1], markdown(stats, dataset.manifest.name))
    if plots:
        files += write_plots(stats, out)
    return StatsReport(stats=stats, files=files)
