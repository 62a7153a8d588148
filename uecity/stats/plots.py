"""Fig. 3 of the paper as PNG files (matplotlib, Agg backend): a word cloud drawn with plain
matplotlib text, the instances-per-expression histogram, the temporal-ratio distribution and
the duration of referred instances."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from uecity.core.atomic import atomic_write_bytes
from uecity.core.errors import MissingDependencyError
from uecity.stats.table1 import DatasetStats

logger = logging.getLogger(__name__)


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "the plots need matplotlib: pip install 'uecity[model]' (or matplotlib)"
        ) from None
    return plt


def _save(figure, path: Path) -> None:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue(), durable=False)


def word_cloud(word_counts: dict[str, int], path: Path, *, max_words: int = 80) -> None:
    """A word cloud: words sized by frequency, placed greedily on a spiral without overlap."""
    plt = _pyplot()
    items = list(word_counts.items())[:max_words]
    figure = plt.figure(figsize=(8, 4.5))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.axis("off")
    if not items:
        _save(figure, path)
        plt.close(figure)
        return
    renderer = figure.canvas.get_renderer()
    top = items[0][1]
    placed: list[tuple[float, float, float, float]] = []
    colours = plt.get_cmap("viridis")
    rng = np.random.default_rng(0)
    for rank, (word, count) in enumerate(items):
        size = 10 + 38 * np.sqrt(count / top)
        text = axes.text(
            0.5,
            0.5,
            word,
            fontsize=size,
            ha="center",
            va="center",
            color=colours(rank / max(len(items), 1) * 0.85),
        )
        box = text.get_window_extent(renderer).transformed(axes.transAxes.inverted())
        w, h = box.width, box.height
        angle0 = rng.uniform(0, 2 * np.pi)
        for step in range(2000):
            radius = 0.004 * step
            x = 0.5 + radius * np.cos(angle0 + 0.3 * step) * 1.2
            y = 0.5 + radius * np.sin(angle0 + 0.3 * step) * 0.8
            candidate = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            inside = (
                candidate[0] >= 0 and candidate[1] >= 0 and candidate[2] <= 1 and candidate[3] <= 1
            )
            if inside and all(
                candidate[2] < p[0]
                or candidate[0] > p[2]
                or candidate[3] < p[1]
                or candidate[1] > p[3]
                for p in placed
            ):
                text.set_position((x, y))
                placed.append(candidate)
                break
        else:
            text.remove()
    _save(figure, path)
    plt.close(figure)


def histogram(values: list[float], path: Path, *, title: str, xlabel: str, bins: int) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist(values, bins=bins, color="#3b75af", edgecolor="white")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("count")
    _save(figure, path)
    plt.close(figure)


def write_plots(stats: DatasetStats, out: Path) -> list[Path]:
    """Fig. 3 (a)–(d) as four PNG files in `out`."""
    paths = {
        "wordcloud": out / "fig3a_wordcloud.png",
        "instances": out / "fig3b_instances_per_expression.png",
        "ratio": out / "fig3c_temporal_ratio.png",
        "duration": out / "fig3d_referent_duration.png",
    }
    word_cloud(stats.word_counts, paths["wordcloud"])
    histogram(
        stats.instances,
        paths["instances"],
        title="Instances per expression",
        xlabel="referred instances",
        bins=max(5, min(50, max(stats.instances))),
    )
    histogram(
        stats.temporal_ratios,
        paths["ratio"],
        title="Ratio of referent frames covering the video",
        xlabel="temporal ratio",
        bins=20,
    )
    histogram(
        stats.durations,
        paths["duration"],
        title="Duration of referred instances",
        xlabel="frames",
        bins=30,
    )
    return list(paths.values())
