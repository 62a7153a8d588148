import json

import pytest

from tests.factories import build_small_dataset
from uecity.core.errors import DatasetError
from uecity.stats.report import write_stats
from uecity.stats.table1 import dataset_stats, words


def test_table1_numbers_hand_computed(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")  # per video: "red cars", track 0 on 5 frames
    stats = dataset_stats(dataset)
    assert stats.table_row() == {
        "frames": 10,
        "prompts": 2,
        "annotated_boxes": 10,
        "instances_per_prompt": 1.0,
        "temporal_ratio": 1.0,
    }
    assert stats.durations == [5, 5]
    assert stats.word_counts == {"red": 2, "cars": 2}


def test_words_drop_stop_words():
    assert words("the cars which are turning left") == ["cars", "turning", "left"]


def test_write_stats_outputs(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    report = write_stats(dataset, tmp_path / "stats")
    names = sorted(p.name for p in report.files)
    assert "stats.json" in names and "stats.md" in names
    assert sum(name.endswith(".png") for name in names) == 4
    for path in report.files:
        assert path.stat().st_size > 0
    data = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert data["table1"]["prompts"] == 2 and "Refer-UE-City" in data["paper_table1"]
    assert "| Refer-UE-City | 6,207 | 714 |" in (tmp_path / "stats" / "stats.md").read_text()


def test_no_expressions(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    for video in dataset.videos:
        for path in dataset.video(video).expressions_folder.glob("*.json"):
            path.unlink()
    with pytest.raises(DatasetError, match="no expressions"):
        dataset_stats(dataset)


def test_stats_show_the_train_test_sentence_overlap(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")  # both videos say "red cars"
    report = write_stats(dataset, tmp_path / "stats", plots=False)
    assert report.overlap is not None and report.overlap.seen_in_train == 1
    data = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert data["split_overlap"] == {
        "test_expressions": 1,
        "seen_in_train": 1,
        "distinct_test_sentences": 1,
        "distinct_seen": 1,
    }
    assert "1 of 1 test expressions (100 %)" in (tmp_path / "stats" / "stats.md").read_text()
