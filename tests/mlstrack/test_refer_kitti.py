"""The Refer-KITTI index, clip sampling and augmentations on a hand-made tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlstrack.data import AugmentConfig, ClipSampler, ClipSpec, ReferKittiIndex, collate_clips
from mlstrack.data.transforms import load_clip, swap_left_right
from tests.mlstrack.refer_kitti_tree import HEIGHT, WIDTH, boxes_at, write_tree
from uecity.core.errors import DatasetError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "rk")


def test_labels_become_absolute_xyxy_pixels(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    video = index.videos["0002"]
    assert video.num_frames == 6 and video.size_wh == (WIDTH, HEIGHT)
    labels = video.labels(3)
    expected = boxes_at("0002", 3)
    assert labels.ids.tolist() == list(expected)
    np.testing.assert_allclose(labels.boxes_xyxy, np.array(list(expected.values())), atol=1e-3)


def test_expressions_and_splits_from_train_list_and_seqmap(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    assert index.train_videos == ["0001"]
    assert {n for _, n in index.test_sequences} == {
        "the-red-car-on-the-left",
        "blue-cars",
        "cars-turning-right",
    }
    expression = index.expression("0002", "cars-turning-right")
    assert expression.sequence == "0002+cars-turning-right"
    assert expression.referred_at(3) == {2, 7} and expression.referred_at(0) == {2}
    assert index.expression("0001", "blue-cars").referred_at(0) == frozenset()


def test_seqmap_names_are_never_split_on_commas(tree: Path) -> None:
    folder = tree / "expression" / "0002"
    data = json.loads((folder / "blue-cars.json").read_text())
    (folder / "cars, blue ones.json").write_text(json.dumps(data))
    (tree / "seqmap").write_text("name\n0002+cars, blue ones\n")
    assert ReferKittiIndex.open(tree).test_sequences == [("0002", "cars, blue ones")]


def test_original_refer_kitti_default_split(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "rk", videos=("0001", "0005"), seqmap=False)
    index = ReferKittiIndex.open(root)
    assert index.train_videos == ["0001"]
    assert {v for v, _ in index.test_sequences} == {"0005"}


@pytest.mark.parametrize("damage", ["no_tree", "no_expressions", "bad_json", "bad_label"])
def test_broken_trees_are_named(tree: Path, damage: str) -> None:
    if damage == "no_tree":
        target = tree / "missing"
    else:
        target = tree
        if damage == "no_expressions":
            for path in (tree / "expression").rglob("*.json"):
                path.unlink()
        elif damage == "bad_json":
            (tree / "expression/0001/blue-cars.json").write_text("{")
        else:
            (tree / "KITTI/labels_with_ids/image_02/0001/000000.txt").write_text("0 x y\n")
    with pytest.raises(DatasetError) as error:
        index = ReferKittiIndex.open(target)
        index.videos["0001"].labels(0)
    assert str(target) in str(error.value) or "000000.txt" in str(error.value)


def test_clip_sampling_is_a_function_of_the_step(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    sampler = ClipSampler(index, ClipSpec(length=3, interval=2), seed=5)
    assert sampler.steps_per_epoch == 2  # starts 0 and 1: 6 frames, a span of 2 × 2
    clips = [sampler.clip(step) for step in range(8)]
    assert [c.frames for c in clips] == [sampler.clip(s).frames for s in range(8)]
    for clip in clips:
        assert clip.video_id == "0001" and len(clip.frames) == 3
        steps = np.diff(clip.frames)
        assert ((steps >= 1) & (steps <= 2)).all()
        assert clip.expression.video_id == "0001"
    # one epoch visits every start once
    starts = sorted(sampler.clip(s).frames[0] for s in range(sampler.steps_per_epoch))
    assert starts == list(range(sampler.steps_per_epoch))


def test_ranks_share_an_epoch_without_overlap(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    spec = ClipSpec(length=2, interval=1)
    ranks = [ClipSampler(index, spec, seed=1, rank=r, world_size=2) for r in range(2)]
    seen = [
        (c.video_id, c.frames) for s in ranks for c in (s.clip(i) for i in range(s.steps_per_epoch))
    ]
    assert len(set(seen)) == len(seen) == 2 * ranks[0].steps_per_epoch


def test_swap_left_right() -> None:
    assert (
        swap_left_right("the car on the Left turning right") == "the car on the Right turning left"
    )
    assert swap_left_right("crossing left-to-right, leftover") == "crossing right-to-left, leftover"


def test_flip_mirrors_boxes_and_swaps_the_sentence(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    sampler = ClipSampler(index, ClipSpec(length=2, interval=1), seed=0)
    start = next(
        c
        for c in (sampler.clip(s) for s in range(40))
        if c.expression.name == "the-red-car-on-the-left"
    )
    plain = load_clip(index, start, None)
    flipped = load_clip(index, start, AugmentConfig(hflip_prob=1.0, crop_prob=0.0))
    assert plain.sentence == "the red car on the left"
    assert flipped.sentence == "the red car on the right"
    torch.testing.assert_close(flipped.images[0], plain.images[0].flip(-1))
    a, b = plain.targets[0], flipped.targets[0]
    torch.testing.assert_close(b.boxes_cxcywh[:, 0], 1 - a.boxes_cxcywh[:, 0])
    torch.testing.assert_close(b.boxes_cxcywh[:, 1:], a.boxes_cxcywh[:, 1:])
    assert b.ids.tolist() == a.ids.tolist()
    assert a.referred.tolist() == [1.0, 0.0]  # id 1 referred, id 2 not


def test_resize_crop_and_padding_masks(tree: Path) -> None:
    index = ReferKittiIndex.open(tree)
    sampler = ClipSampler(index, ClipSpec(length=2), seed=0)
    resized = load_clip(
        index, sampler.clip(0), AugmentConfig(short_sides=(32,), hflip_prob=0, crop_prob=0)
    )
    assert resized.images[0].shape == (3, 32, 48)
    plain = load_clip(index, sampler.clip(0), None)
    torch.testing.assert_close(
        resized.targets[0].boxes_cxcywh, plain.targets[0].boxes_cxcywh, atol=1e-6, rtol=0
    )
    images, masks, clips = collate_clips([resized, plain])
    assert images.shape == (2, 2, 3, 64, 96)
    assert not masks[1].any() and masks[0, :, 32:, :].all() and not masks[0, :, :32, :48].any()
    assert len(clips) == 2
