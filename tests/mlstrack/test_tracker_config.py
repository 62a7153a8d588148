"""The tracker's own config: TransRMOT's defaults, checked on construction with the field named,
and kept apart from the model's hyper-parameters."""

from __future__ import annotations

import pytest

from mlstrack.errors import ModelConfigError
from mlstrack.tracker_config import TRACKER_FIELDS, TrackerConfig, split_tracker_fields


def test_defaults_are_transrmots() -> None:
    tracker = TrackerConfig()
    assert (tracker.new_track_score, tracker.drop_score, tracker.miss_tolerance) == (0.7, 0.6, 5)
    assert (tracker.refer_threshold, tracker.min_box_area) == (0.5, 0.0)
    assert TrackerConfig.from_dict(tracker.to_dict()) == tracker


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"drop_score": 0.8}, "drop_score"),
        ({"refer_threshold": 2.0}, "refer_threshold"),
        ({"refer_threshold": float("nan")}, "refer_threshold"),
        ({"new_track_score": "high"}, "new_track_score"),
        ({"miss_tolerance": 0}, "miss_tolerance"),
        ({"miss_tolerance": 2.5}, "miss_tolerance"),
        ({"min_box_area": -0.1}, "min_box_area"),
    ],
)
def test_bad_thresholds_name_their_field(changes: dict, field: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        TrackerConfig().replace(**changes)
    assert info.value.field == field and "expected" in str(info.value)


def test_replace_keeps_none_and_refuses_unknown_settings() -> None:
    tracker = TrackerConfig(refer_threshold=0.3)
    assert tracker.replace(refer_threshold=None, drop_score=0.1) == TrackerConfig(
        refer_threshold=0.3, drop_score=0.1
    )
    with pytest.raises(ModelConfigError, match=r"unknown tracker setting.*speed"):
        tracker.replace(speed=3)
    with pytest.raises(ModelConfigError, match="JSON object"):
        TrackerConfig.from_dict([0.5])


def test_old_model_configs_split_into_model_and_tracker_fields() -> None:
    model, tracker = split_tracker_fields(
        {"d_model": 32, "refer_threshold": 0.4, "drop_score": 0.5}
    )
    assert model == {"d_model": 32} and tracker == {"refer_threshold": 0.4, "drop_score": 0.5}
    assert set(TRACKER_FIELDS) == set(TrackerConfig().to_dict())
