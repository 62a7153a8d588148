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
    assert expression.referred_at(3) == {12, 17} and expression.referred_at(0) == {12}
    assert index.expression("0001", "blue-cars").referred_at(0) == frozenset()


def test_seqmap_names_are_never_split_on_commas(tree: Path) -> None:
    folder = tree / "expression" / "0002"
    data = json.loads((folder / "blue-cars.json").read_text())
    (folder / "cars, blue ones.json").write_text(json.dumps(data))
    (tree / "seqmap.txt").write_text("name\n0002+cars, blue ones\n")
    assert ReferKittiIndex.open(tree).test_sequences == [("0002", "cars, blue ones")]


def test_original_refer_kitti_default_split(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "rk", videos=("0001", "0005"), seqmap=False)
    index = ReferKittiIndex.open(root)
    assert index.train_videos == ["0001"]  # the published test videos are not trained on
    # without a seqmap nothing is scored: TransRMOT's protocol scores the seqmap's sequences
    with pytest.raises(DatasetError, match=r"no seqmap\.txt: it lists the test sequences"):
        index.test_expressions()


def test_the_train_lists_frames_are_honoured(tree: Path) -> None:
    (tree / "refer-kitti.train").write_text(
        "".join(f"KITTI/training/image_02/0001/{f:06d}.png\n" for f in (0, 1, 2, 4))
    )
    index = ReferKittiIndex.open(tree)
    assert index.train_frames == {"0001": (0, 1, 2, 4)}
    sampler = ClipSampler(index, ClipSpec(length=2, interval=1, mode="fixed"), seed=0)
    assert sampler.steps_per_epoch == 3  # starts at the listed frames 0, 1, 2
    clips = {sampler.clip(s).frames for s in range(sampler.steps_per_epoch)}
    assert clips == {(0, 1), (1, 2), (2, 4)}  # frames 3 and 5 are never loaded


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "refer-kitti.train",
            "KITTI/training/image_02/0001/000000.png\nimages/x.jpg\n",
            r":2: expected",
        ),
        ("refer-kitti.train", "KITTI/training/image_02/0009/000000.png\n", r"video '0009'"),
        ("refer-kitti.train", "KITTI/training/image_02/0001/000006.png\n", r"frame 6 of video"),
        ("seqmap.txt", "0002+blue-cars\n0002-blue-cars\n", r"seqmap\.txt:2: expected `<video>\+"),
        ("seqmap.txt", "0002+red-cars\n", r"'0002\+red-cars' \(entry 1\) names no expression"),
        ("seqmap", "0002+blue-cars\n", r"the seqmap is now seqmap\.txt"),
    ],
)
def test_bad_split_files_are_named(tree: Path, file: str, text: str, message: str) -> None:
    if file == "seqmap":
        (tree / "seqmap.txt").unlink()
    (tree / file).write_text(text)
    with pytest.raises(DatasetError, match=message):
        ReferKittiIndex.open(tree)


@pytest.mark.parametrize("folder", ["KITTI/labels_with_ids", "expression", "KITTI/training"])
def test_a_tree_missing_a_folder_names_it(tree: Path, folder: str) -> None:
    import shutil

    shutil.rmtree(tree / folder)
    with pytest.raises(DatasetError, match=r"not a Refer-KITTI tree: .*/ is missing") as error:
        ReferKittiIndex.open(tree)
    assert folder.split("/")[-1] in str(error.value)


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


def test_an_export_with_refer_kitti_names_and_global_ids(tmp_path: Path) -> None:
    """mlstrack's reader on `uecity export --video-names refer-kitti`: each box under its global
    id, the splits, and evaluation that finds the native atoms through native_ids.json."""
    from mlstrack.evaluation import evaluate_results, gt_lines
    from tests.factories import box_rows, build_small_dataset
    from uecity.export import export_dataset
    from uecity.formats.refer_kitti import prediction_file

    dataset = build_small_dataset(tmp_path / "d", videos=("cam-a", "cam-b"))
    export_dataset(dataset, tmp_path / "rk", "refer-kitti", workers=1, video_names="refer-kitti")
    index = ReferKittiIndex.open(tmp_path / "rk")
    assert index.native_videos == {"0000": "cam-a", "0001": "cam-b"}
    assert index.train_videos == ["0000"] and index.test_sequences == [("0001", "red-cars")]
    rows = box_rows()
    for video, offset in (("0000", 0), ("0001", 3)):  # native ids 0, 1, 2 in both videos
        for frame in range(5):
            native = rows[rows.frame == frame]
            labels = index.videos[video].labels(frame)
            assert labels.ids.tolist() == (native.track_id + offset).tolist()
            np.testing.assert_allclose(
                labels.boxes_xyxy, native[["x1", "y1", "x2", "y2"]].to_numpy(), atol=1e-3
            )
    assert index.expression("0001", "red-cars").referred_at(2) == {3}
    expression = index.expression("0001", "red-cars")
    path = prediction_file(tmp_path / "res", "0001", "red-cars")
    path.parent.mkdir(parents=True)
    path.write_text("".join(gt_lines(index, expression)))
    atoms = {  # what `uecity evaluate --dataset` reads from the native dataset
        (video, e.expression_id): list(e.atoms)
        for video in dataset.videos
        for e in dataset.video(video).expressions()
    }
    report = evaluate_results(tmp_path / "res", index, atoms_by_expression=atoms)
    assert report.combined["HOTA"] == pytest.approx(100.0)
    assert set(report.per_atom) == {"type=car", "colour=red"}  # the native dataset's atoms
