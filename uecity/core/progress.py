"""The one progress-callback shape of every long-running producer.

Generation (per video), training (per step), calibration (per threshold pair) and tracking (per
sequence) report to a `ProgressFn`: a callable taking one `ProgressEvent`. The event is plain,
picklable data, so generation's worker processes send it through a queue unchanged; the CLI
draws every producer's events with the same bars (`uecity.cli.progress_bars`), and a library
user passes any function (a logger, a notebook widget).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressEvent:
    """`done` of `total` units of `task` are finished.

    task: what advances, one bar each: a video id, "train", "calibrate", "track".
    item: what was just finished, when it has a name (a sequence, a threshold pair).
    values: the figures of the moment, by name (the losses of a step, a best HOTA).
    """

    task: str
    done: int
    total: int
    item: str = ""
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.done <= self.total:
            raise ValueError(f"progress {self.done}/{self.total} of {self.task!r} is out of range")

    def describe(self) -> str:
        """One line for a person: the item, then the values."""
        figures = " ".join(f"{name} {value:.3f}" for name, value in self.values.items())
        return " ".join(part for part in (self.item, figures) if part)


ProgressFn = Callable[[ProgressEvent], None]
