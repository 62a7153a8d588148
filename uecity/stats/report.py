"""`uecity stats`: write the statistics as JSON, Markdown and PNG plots into one folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from uecity.core.atomic import atomic_write_json, atomic_write_text
from uecity.dataset import Dataset
from uecity.language.compose import SentenceOverlap, sentence_overlap
from uecity.stats.plots import write_plots
from uecity.stats.table1 import DatasetStats, dataset_stats, markdown


@dataclass(frozen=True)
class StatsReport:
    stats: DatasetStats
    files: list[Path]
    overlap: SentenceOverlap | None = None


def split_overlap(dataset: Dataset) -> SentenceOverlap | None:
    """How many test expressions' sentences occur in the training videos (None without a
    train/test split in the manifest)."""
    splits = dataset.manifest.splits
    if not splits.get("train") or not splits.get("test"):
        return None
    expressions = {v: dataset.video(v).expressions() for v in [*splits["train"], *splits["test"]]}
    return sentence_overlap(expressions, splits)


def write_stats(
    dataset: Dataset, out: Path, *, videos: list[str] | None = None, plots: bool = True
) -> StatsReport:
    """Compute the statistics and write `stats.json`, `stats.md` and the Fig. 3 plots; with a
    train/test split, also how many test sentences occur in training."""
    stats = dataset_stats(dataset, videos)
    overlap = split_overlap(dataset)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "stats.json", out / "stats.md"]
    payload = stats.to_json()
    text = markdown(stats, dataset.manifest.name)
    if overlap is not None:
        payload["split_overlap"] = asdict(overlap)
        text += f"\n## Train/test sentence overlap\n\n{overlap.describe()}.\n"
    atomic_write_json(files[0], payload)
    atomic_write_text(files[1], text)
    if plots:
        files += write_plots(stats, out)
    return StatsReport(stats=stats, files=files, overlap=overlap)
