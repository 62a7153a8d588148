"""Generation end to end: determinism across workers and shards, resume, the result's content."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from tests.uecity.generate.conftest import tree_digest
from uecity.cli import app
from uecity.dataset import Dataset
from uecity.validate import validate_dataset

runner = CliRunner()

# Per kind of file (`dataset.json`, `videos/*/boxes.parquet`, `videos/*/frames/*.png`, ...):
# sha256 over the sorted (path, sha256) list of the tiny run's files of that kind, images
# included, so a failure names what moved. If a deliberate change alters the output, update it
# with UECITY_UPDATE_GOLDEN=1 (and say why in the commit).
GOLDEN = Path(__file__).with_name("golden_tiny.json")


def _generate(spec: Path, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["generate", str(spec), "--out", str(out), *args])
    assert result.exit_code == 0, result.output


def file_kind(relative: str) -> str:
    """`videos/video_0001/frames/000003.png` -> `videos/*/frames/*.png`: the video folder and
    the frame number are not part of a file's kind."""
    parts = list(Path(relative).parts)
    if parts[0] == "videos" and len(parts) > 2:
        parts[1] = "*"
    if "frames" in parts[:-1]:
        parts[-1] = "*" + Path(parts[-1]).suffix
    return "/".join(parts)


def digests_by_kind(root: Path) -> dict[str, str]:
    kinds: dict[str, list[tuple[str, str]]] = {}
    for path, digest in sorted(tree_digest(root).items()):
        kinds.setdefault(file_kind(path), []).append((path, digest))
    return {
        kind: hashlib.sha256(json.dumps(items).encode()).hexdigest()
        for kind, items in sorted(kinds.items())
    }


def golden_differences(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    """One line per kind of file that changed, appeared or disappeared."""
    return [
        f"{kind}: {'new' if kind not in expected else 'gone' if kind not in got else 'changed'}"
        for kind in sorted(set(expected) | set(got))
        if expected.get(kind) != got.get(kind)
    ]


def test_golden_differences_name_the_kind_that_moved() -> None:
    assert file_kind("videos/video_0002/frames/000013.png") == "videos/*/frames/*.png"
    assert file_kind("videos/video_0002/boxes.parquet") == "videos/*/boxes.parquet"
    assert file_kind("dataset.json") == "dataset.json"
    before = {"dataset.json": "a", "videos/*/boxes.parquet": "b", "videos/*/motion.json": "c"}
    after = {"dataset.json": "a", "videos/*/boxes.parquet": "B", "videos/*/new.json": "d"}
    assert golden_differences(before, before) == []
    assert golden_differences(before, after) == [
        "videos/*/boxes.parquet: changed",
        "videos/*/motion.json: gone",
        "videos/*/new.json: new",
    ]


def test_one_and_two_workers_and_shards_give_the_same_bytes(
    tiny_spec_file: Path, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _generate(tiny_spec_file, one, "--workers", "1")
    _generate(tiny_spec_file, two, "--workers", "2")
    digest = tree_digest(one)
    assert digest == tree_digest(two)
    assert not any(".partial" in k or ".uecity-tmp-" in k for k in digest)

    shards = [tmp_path / "shard0", tmp_path / "shard1"]
    _generate(tiny_spec_file, shards[0], "--shard", "0/2")
    _generate(tiny_spec_file, shards[1], "--shard", "1/2", "--workers", "2")
    assert Dataset.open(shards[0]).videos == ["video_0000", "video_0002"]
    merged = tmp_path / "merged"
    result = runner.invoke(app, ["merge", str(shards[0]), str(shards[1]), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    assert tree_digest(merged) == digest

    report = validate_dataset(one)
    assert report.ok, [str(p) for p in report.problems]

    golden = digests_by_kind(one)
    if os.environ.get("UECITY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(golden, indent=2) + "\n")
    changed = golden_differences(json.loads(GOLDEN.read_text()), golden)
    assert not changed, "the seeded golden dataset changed: " + "; ".join(changed)


def test_dataset_content(tiny_spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    _generate(tiny_spec_file, out, "--videos", "1", "--frames", "15", "--seed", "3")
    dataset = Dataset.open(out)
    assert dataset.manifest.seed == 3 and dataset.manifest.spec["run"]["frames"] == 15
    video = dataset.video("video_0000")
    info = video.info
    assert (info.width, info.height, info.num_frames, info.backend) == (320, 180, 15, "sim")
    boxes = video.boxes().to_arrow().to_pandas()
    objects = {o.track_id: o for o in video.objects()}
    assert len(boxes) > 15
    assert set(boxes.track_id) == set(objects)
    assert sorted(objects) == list(range(len(objects)))  # compact, stable ids
    assert (boxes.x2 > boxes.x1).all() and (boxes.y2 > boxes.y1).all()
    assert ((boxes.x1 >= 0) & (boxes.x2 <= 320) & (boxes.y1 >= 0) & (boxes.y2 <= 180)).all()
    assert (boxes.visibility >= 0.15).all() and (boxes.truncation.between(0, 1)).all()
    # The visible box lies inside the amodal box (up to the rasteriser's boundary pixel).
    assert (boxes.x1 >= boxes.amodal_x1 - 1.01).all() and (boxes.x2 <= boxes.amodal_x2 + 1.01).all()
    assert {o.category for o in objects.values()} <= {"vehicle", "pedestrian"}
    motion = video.motion().intervals
    assert motion and all(m.source == "auto" for m in motion)
    labels = {m.label for m in motion}
    assert {"moving", "on the left", "on the right"} <= labels
    assert all(m.track_id in objects for m in motion)


def _spawn_generate(spec: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "uecity", "generate", str(spec), "--out", str(out), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_resume_after_kill_leaves_no_partial_files(tiny_spec_file: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _generate(tiny_spec_file, reference, "--frames", "60")
    out = tmp_path / "killed"
    process = _spawn_generate(tiny_spec_file, out, "--frames", "60")
    # Kill -9 once the first video is done and the second one is under way.
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and not (out / "videos" / "video_0000" / "video.json").exists()
    ):
        time.sleep(0.05)
    time.sleep(0.1)  # into video 1's setup (a video takes well over a second here)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = sorted(p.name for p in (out / "videos").iterdir())
    assert "video_0000" in finished and len(finished) < 3
    stamp = (out / "videos" / "video_0000" / "video.json").stat().st_mtime_ns
    # A plain rerun refuses to overwrite; --resume continues.
    result = runner.invoke(
        app, ["generate", str(tiny_spec_file), "--out", str(out), "--frames", "60"]
    )
    assert result.exit_code != 0 and "--resume" in result.output
    _generate(tiny_spec_file, out, "--frames", "60", "--resume")
    assert (out / "videos" / "video_0000" / "video.json").stat().st_mtime_ns == stamp  # not redone
    assert tree_digest(out) == tree_digest(reference)


def test_resume_sweeps_leftovers_of_an_interrupted_video(
    tiny_spec_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "d"
    _generate(tiny_spec_file, out, "--videos", "2", "--frames", "10")
    reference = tree_digest(out)
    # Simulate an interruption: video 1 half-written in staging, and a stray temporary file.
    import shutil

    partial = out / ".partial" / "video_0001" / "videos" / "video_0001"
    partial.parent.mkdir(parents=True)
    shutil.move(out / "videos" / "video_0001", partial)
    (partial / "frames" / "000009.jpg").unlink()
    (out / "videos" / ".boxes.parquet.uecity-tmp-abc.parquet").write_bytes(b"junk")
    _generate(tiny_spec_file, out, "--videos", "2", "--frames", "10", "--resume")
    after = tree_digest(out)
    assert after == reference


def test_resume_refuses_another_spec(tiny_spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    _generate(tiny_spec_file, out, "--videos", "1", "--frames", "5")
    result = runner.invoke(
        app,
        [
            "generate",
            str(tiny_spec_file),
            "--out",
            str(out),
            "--videos",
            "1",
            "--frames",
            "6",
            "--resume",
        ],
    )
    assert result.exit_code == 2
    assert "another spec" in result.output


def test_preview_draws_a_contact_sheet(tiny_spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    _generate(tiny_spec_file, out, "--videos", "1", "--frames", "8")
    sheet = tmp_path / "sheet.png"
    result = runner.invoke(app, ["preview", str(out), "--out", str(sheet), "--tiles", "2"])
    assert result.exit_code == 0, result.output
    import cv2

    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[1] == 1920


def test_boxes_table_is_sorted_and_typed(tiny_spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    _generate(tiny_spec_file, out, "--videos", "1", "--frames", "5")
    table = pd.read_parquet(out / "videos" / "video_0000" / "boxes.parquet")
    assert list(table.columns[:8]) == [
        "frame",
        "track_id",
        "x1",
        "y1",
        "x2",
        "y2",
        "visibility",
        "truncation",
    ]
    assert table.equals(table.sort_values(["frame", "track_id"]).reset_index(drop=True))


def test_a_video_without_annotated_boxes_is_still_valid(tmp_path: Path) -> None:
    spec = tmp_path / "empty.yaml"
    spec.write_text(
        "run: {videos: 1, frames: 3, warmup_s: 0, min_box_pixels: 10000000}\n"
        "capture: {width: 160, height: 90}\n"
    )
    out = tmp_path / "d"
    _generate(spec, out)
    video = Dataset.open(out).video("video_0000")
    assert video.objects() == [] and len(video.boxes()) == 0
    assert validate_dataset(out).ok
