from pathlib import Path

import pytest

from uecity.core.errors import DatasetError, SpecError, UsageError
from uecity.language.compose import SplitConfig, compose_dataset
from uecity.language.composition import CompositionConfig
from uecity.language.vocabulary import load_vocabulary
from uecity.records import Expression
from uecity.validate import validate_dataset


def _files(dataset) -> dict[str, bytes]:
    root = dataset.root / "expressions"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_compose_writes_valid_expressions_and_split(traffic):
    report = compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=3)
    assert report.total > 20
    assert not validate_dataset(traffic.root, check_frame_files=False).problems
    reopened = type(traffic).open(traffic.root)
    assert sorted(reopened.manifest.splits["train"] + reopened.manifest.splits["test"]) == [
        "0001",
        "0002",
    ]
    assert len(reopened.manifest.splits["test"]) == 1
    expression = reopened.video("0001").expressions()[0]
    assert expression.logic is not None and expression.atoms
    assert set(expression.atoms) == set(expression.logic.atoms())


def test_same_seed_gives_identical_files(traffic, tmp_path):
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=11)
    first = _files(traffic)
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=11)
    assert _files(traffic) == first
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=12)
    assert _files(traffic) != first


def test_rerun_removes_stale_ours_and_keeps_hand_written(traffic):
    manual = Expression(
        label={"0": [0]}, video_name="0001", sentence="my car", expression_id="my-car"
    )
    traffic.video("0001").write_expression(manual)
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=1)
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(expressions_per_video=3), seed=2)
    ids = traffic.video("0001").expression_ids()
    assert "my-car" in ids
    assert len(ids) == 4


def test_explicit_test_videos(traffic):
    report = compose_dataset(
        traffic,
        load_vocabulary(),
        CompositionConfig(),
        seed=1,
        split=SplitConfig(test_videos=["0002"]),
    )
    assert report.splits == {"train": ["0001"], "test": ["0002"]}
    with pytest.raises(UsageError, match="not in the dataset"):
        compose_dataset(
            traffic,
            load_vocabulary(),
            CompositionConfig(),
            seed=1,
            split=SplitConfig(test_videos=["9999"]),
        )


def _state(traffic) -> set[Path]:
    return set((traffic.root / "expressions").rglob("*"))


def test_thresholds_leaving_nothing_write_nothing(traffic):
    before = _state(traffic)
    with pytest.raises(SpecError, match="thresholds leave no expression"):
        compose_dataset(traffic, load_vocabulary(), CompositionConfig(min_frames=100_000), seed=1)
    assert _state(traffic) == before


def test_dataset_without_motion_is_refused(traffic):
    (traffic.root / "videos" / "0002" / "motion.json").unlink()
    before = _state(traffic)
    with pytest.raises(DatasetError, match="without motion data: 0002"):
        compose_dataset(traffic, load_vocabulary(), CompositionConfig(), seed=1)
    assert _state(traffic) == before


def test_a_shared_pool_puts_training_sentences_into_the_test_video(traffic):
    def compose(shared: bool):
        return compose_dataset(
            traffic,
            load_vocabulary(),
            CompositionConfig(expressions_per_video=30, min_objects=1, min_frames=5),
            seed=4,
            split=SplitConfig(test_videos=["0002"], shared_pool=shared),
        )

    independent = compose(False).test_overlap()
    report = compose(True)
    shared = report.test_overlap()
    train = {e.sentence for e in report.expressions["0001"]}
    test = [e.sentence for e in report.expressions["0002"]]
    assert shared.test_expressions == len(test) > 0
    assert shared.seen_in_train == sum(s in train for s in test)
    assert shared.seen_in_train / shared.test_expressions > 0.6
    assert shared.seen_in_train / shared.test_expressions > (
        independent.seen_in_train / max(independent.test_expressions, 1)
    )
    assert list(report.expressions) == ["0001", "0002"]  # dataset order kept
    assert "occurs in training" in shared.describe()
