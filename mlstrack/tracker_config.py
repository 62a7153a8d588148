"""The tracker's settings: a frozen config of its own, stored next to the model of a run.

The thresholds of online tracking (`mlstrack.tracker`) are not hyper-parameters of the network:
they are chosen after training, on held-out videos (`mlstrack.calibration`), and overridden per
`uecity track` call. So they live here, not in `MLSTrackConfig`, and tracking never rewrites the
model's config. A run keeps them in `RUN/model/tracker.json` (written by `uecity train` from
the train config's `tracker:` section, rewritten by `uecity calibrate` with the chosen values;
`calibration.json` beside it records how they were chosen).

Checkpoints written before the split carry the tracker fields inside `config.json`'s model
config; `read_tracker_config` still reads them from there, and `split_tracker_fields` takes them
out before the model config is built.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mlstrack.errors import ModelConfigError
from uecity.core.atomic import atomic_write_json
from uecity.core.record_io import load_json, load_record

TRACKER_FILE = "tracker.json"
CALIBRATION_FILE = "calibration.json"
MODEL_CONFIG_FILE = "config.json"  # `mlstrack.checkpoint.CONFIG_NAME`, read here without torch


@dataclass(frozen=True)
class TrackerConfig:
    """The thresholds of online tracking (TransRMOT's defaults).

    Args:
        new_track_score: a detect query becomes a track at this class score (0.7).
        drop_score: a track scoring below it counts a miss (0.6); at most `new_track_score`.
        miss_tolerance: a track is dropped after this many consecutive misses (5).
        refer_threshold: β_ref, a track is output when its referring score reaches it (0.5).
        min_box_area: a box smaller than this share of the frame's area is not output (0;
            TransRMOT's area filter, usually chosen by calibration).
    """

    new_track_score: float = 0.7
    drop_score: float = 0.6
    miss_tolerance: int = 5
    refer_threshold: float = 0.5
    min_box_area: float = 0.0

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ModelConfigError(f"expected {expected}, got {getattr(self, name)!r}", field=name)

        for name in ("new_track_score", "drop_score", "refer_threshold", "min_box_area"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                fail(name, "a number in [0, 1]")
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                fail(name, "a number in [0, 1]")
        if isinstance(self.miss_tolerance, bool) or not isinstance(self.miss_tolerance, int):
            fail("miss_tolerance", "a whole number of frames")
        if self.miss_tolerance < 1:
            fail("miss_tolerance", "at least 1 frame")
        if self.drop_score > self.new_track_score:
            fail("drop_score", f"at most new_track_score ({self.new_track_score})")

    def replace(self, **changes: float | int | None) -> TrackerConfig:
        """A copy with some thresholds changed (None keeps a value), validated again."""
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(given) - set(TRACKER_FIELDS))
        if unknown:
            raise ModelConfigError(f"unknown tracker setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **given) if given else self

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Any, *, path: Path | None = None) -> TrackerConfig:
        """A config from `to_dict`'s output; missing keys keep the defaults, unknown keys are an
        error naming them (and `path`, the file they came from)."""
        if not isinstance(values, dict):
            raise ModelConfigError("expected a JSON object of tracker settings", path=path)
        try:
            return cls().replace(**values)
        except ModelConfigError as error:
            if path is None:
                raise
            raise ModelConfigError(error.args[0], path=path, field=error.field) from None


TRACKER_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrackerConfig))


def split_tracker_fields(model_values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config fields, tracker fields) of a model config dictionary: checkpoints written
    before the split keep the tracker thresholds in the model config."""
    model = {k: v for k, v in model_values.items() if k not in TRACKER_FIELDS}
    tracker = {k: v for k, v in model_values.items() if k in TRACKER_FIELDS}
    return model, tracker


class CalibrationFile(BaseModel):
    """What tracking reads of `calibration.json`: the chosen thresholds (the file also holds
    the grid tried and its held-out scores)."""

    model_config = ConfigDict(extra="allow")

    chosen: dict[str, float]


def read_tracker_config(model_dir: str | Path) -> TrackerConfig:
    """The tracker config stored with a model folder: `tracker.json`; for runs from before it
    existed, the `chosen` values of `calibration.json` over the tracker fields of the model's
    `config.json`; the defaults where none of them is there."""
    folder = Path(model_dir)
    stored = folder / TRACKER_FILE
    if stored.is_file():
        return TrackerConfig.from_dict(load_json(stored, error=ModelConfigError), path=stored)
    values: dict[str, Any] = {}
    legacy = folder / MODEL_CONFIG_FILE
    if legacy.is_file():
        payload = load_json(legacy, error=ModelConfigError)
        model = payload.get("config") if isinstance(payload, dict) else None
        if isinstance(model, dict):
            values.update(split_tracker_fields(model)[1])
    if (folder / CALIBRATION_FILE).is_file():
        values.update(read_calibrated(folder))
    return TrackerConfig.from_dict(values, path=folder)


def read_calibrated(model_dir: str | Path) -> dict[str, float]:
    """The thresholds `calibration.json` chose (tracker fields only)."""
    path = Path(model_dir) / CALIBRATION_FILE
    chosen = load_record(path, CalibrationFile, error=ModelConfigError, what="calibration").chosen
    return {k: v for k, v in chosen.items() if k in TRACKER_FIELDS}


def write_tracker_config(tracker: TrackerConfig, model_dir: str | Path) -> Path:
    """`model_dir/tracker.json`, atomically."""
    path = Path(model_dir) / TRACKER_FILE
    atomic_write_json(path, tracker.to_dict())
    return path
