"""Refer-KITTI fidelity against TransRMOT's own code: its loader and writers run on an export.

Needs a checkout of TransRMOT (`git clone https://github.com/wudongming97/RMOT`); nothing of it
is copied here, its files are loaded from the checkout and run unmodified (the one exception is
the documented `write_gt` fix, applied to the text in memory for the second scoring). On a small
generated dataset, composed and exported with `--video-names refer-kitti`, it measures:

1. TransRMOT's training loader (`datasets/refer_kitti.py`, `DetMOTDetection`) against
   MLS-Track's reader: boxes, ids and referred flags over every listed frame and expression;
2. the boxes of the next video that TransRMOT's clips across a video boundary mark as referred,
   with the export's global ids and with per-video ids (what exports wrote before);
3. a perfect tracker written by TransRMOT's `write_results`, scored by `uecity evaluate`'s path
   and against TransRMOT's own `write_gt` ground truth, as published and fixed (docs/compose.md).

Only CPU code of TransRMOT runs (its model needs CUDA). TransRMOT's `datasets/transforms.py` and
package `__init__` files import torchvision, which this machine lacks: empty modules stand in for
them (the loader is called without transforms, as `transform is None` allows).

    .venv/bin/python benchmarks/bench_transrmot_fidelity.py --rmot PATH_TO_RMOT_CHECKOUT
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typer.testing import CliRunner

from mlstrack.data import ReferKittiIndex
from mlstrack.evaluation import evaluate_results, gt_lines
from mlstrack.evaluation.trackeval_run import COMBINED, run_trackeval, summarise
from tests.traffic_factory import TrafficSpec, build_traffic_dataset
from uecity.cli import app
from uecity.formats.mot_challenge import parse_lines, read_seqmap, sequence_name
from uecity.formats.refer_kitti import ReferKittiTree, prediction_file

WRITE_GT_FIX = ("'{:06d}.txt'.format(frame_id)", "'{:06d}.txt'.format(int(k))")


def load_transrmot_loader(rmot: Path) -> type:
    """TransRMOT's `DetMOTDetection`, with empty stand-ins for its torchvision imports."""
    for name in ("datasets", "datasets.transforms", "models"):
        sys.modules[name] = types.ModuleType(name)
    spec = importlib.util.spec_from_file_location(
        "models.structures.instances", rmot / "models/structures/instances.py"
    )
    instances = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(instances)
    structures = types.ModuleType("models.structures")
    structures.Instances = instances.Instances
    sys.modules["models.structures"] = structures
    spec = importlib.util.spec_from_file_location(
        "datasets.refer_kitti", rmot / "datasets/refer_kitti.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DetMOTDetection


def load_transrmot_writers(rmot: Path, fixed: bool) -> tuple:
    """`Detector.write_results` and `Detector.write_gt` of TransRMOT's inference.py."""
    source = (rmot / "inference.py").read_text(encoding="utf-8")
    if fixed:
        source = source.replace(*WRITE_GT_FIX)
    detector = next(
        n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Detector"
    )
    namespace = {"np": np, "os": os, "json": json, "print": lambda *a, **k: None}
    for node in detector.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("write_results", "write_gt"):
            node.decorator_list = []
            exec(compile(ast.Module([node], []), "inference.py", "exec"), namespace)
    return namespace["write_results"], namespace["write_gt"]


def make_export(work: Path) -> Path:
    dataset = work / "dataset"
    build_traffic_dataset(
        dataset,
        TrafficSpec(
            videos=3, num_frames=20, width=160, height=90, concurrent=6, image_format="png", seed=3
        ),
    )
    runner = CliRunner()
    for args in (
        ["compose", dataset, "-n", "4", "--min-objects", "1", "--min-frames", "2"],
        ["export", dataset, "--format", "refer-kitti", "--video-names", "refer-kitti"],
    ):
        extra = ["--test-videos", "0003", "--workers", "1"] if args[0] == "compose" else []
        out = ["--out", work / "rk", "-j", "1"] if args[0] == "export" else []
        result = runner.invoke(app, [str(a) for a in [*args, *extra, *out]])
        if result.exit_code != 0:
            raise SystemExit(result.output)
    return work / "rk"


def per_video_copy(export: Path, out: Path) -> Path:
    """The export with each video's native track ids (as exports before global ids wrote)."""
    shutil.copytree(export, out)
    videos = json.loads((out / "native_ids.json").read_text())["videos"]
    tree = ReferKittiTree(out)
    for video, entry in videos.items():
        back = {g: int(n) for n, g in entry["track_ids"].items()}
        for label in tree.label_folder(video).glob("*.txt"):
            rows = [line.split() for line in label.read_text().splitlines()]
            label.write_text(
                "".join(" ".join([r[0], str(back[int(r[1])]), *r[2:]]) + "\n" for r in rows)
            )
        for path in tree.expression_paths(video):
            data = json.loads(path.read_text())
            data["label"] = {k: [back[i] for i in v] for k, v in data["label"].items()}
            path.write_text(json.dumps(data))
    return out


def check_loader(loader_class: type, root: Path) -> tuple[int, int, int, int]:
    """(boxes compared, boxes that differ, next-video boxes at boundaries, wrongly referred)."""
    args = types.SimpleNamespace(
        sampler_lengths=[2],
        sample_mode="fixed_interval",
        sample_interval=1,
        vis=False,
        sampler_steps=None,
        rmot_path=str(root),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        loader = loader_class(args, str(root / "refer-kitti.train"), str(root), {"KITTI": None})
    index = ReferKittiIndex.open(root)
    compared = differ = 0
    for item, path in enumerate(loader.img_files):
        video, frame = path.split("/")[-2], int(Path(path).stem)
        offset = loader.video_dict[os.path.dirname(loader.label_files[item])] * 1000000
        for expression in index.expressions[video]:
            _, target = loader._pre_single_frame(item, [json.loads(expression.path.read_text())])
            labels = index.videos[video].labels(frame)
            ids = (target["obj_ids"].numpy() - offset).astype(int)
            same = (
                ids.tolist() == labels.ids.tolist()
                and np.allclose(target["boxes"].numpy(), labels.boxes_xyxy, atol=1e-3)
                and (
                    target["is_ref"].numpy()
                    == np.isin(labels.ids, list(expression.referred_at(frame)))
                ).all()
            )
            compared += len(ids)
            differ += 0 if same else len(ids)
    boundary = wrong = 0
    for item in range(len(loader.img_files) - 1):
        first = loader.img_files[item].split("/")[-2]
        if first == loader.img_files[item + 1].split("/")[-2]:
            continue
        for expression in index.expressions[first]:
            info = json.loads(expression.path.read_text())
            _, target = loader._pre_single_frame(item + 1, [info])  # a frame of the next video
            boundary += len(target["is_ref"])
            wrong += int(target["is_ref"].sum())  # nothing there is referred by `first`'s sentence
    return compared, differ, boundary, wrong


def check_writers(
    rmot: Path, root: Path, results: Path, fixed: bool
) -> tuple[int, int, dict, dict]:
    """A perfect tracker written TransRMOT's way: (sequences, with TransRMOT's gt equal to ours,
    HOTA against its gt.txt, `uecity evaluate`'s HOTA)."""
    write_results, write_gt = load_transrmot_writers(rmot, fixed)
    index = ReferKittiIndex.open(root)
    same = 0
    gt_theirs, predictions, lengths = {}, {}, {}
    for video_id, name in read_seqmap(ReferKittiTree(root).seqmap):
        expression, video = index.expression(video_id, name), index.videos[video_id]
        folder = prediction_file(results, video_id, name).parent
        folder.mkdir(parents=True)
        for frame in range(video.num_frames):
            labels = video.labels(frame)
            keep = np.isin(labels.ids, list(expression.referred_at(frame)))
            write_results(
                str(folder / "predict.txt"),
                frame + 1,
                labels.boxes_xyxy[keep],
                labels.ids[keep] + 1,
            )
        width, height = video.size_wh
        write_gt(
            str(folder / "gt.txt"),
            str(expression.path),
            str(ReferKittiTree(root).label_folder(video_id)),
            height,
            width,
        )
        ours = parse_lines("".join(gt_lines(index, expression)), "ours")
        theirs = parse_lines((folder / "gt.txt").read_text(), folder / "gt.txt")

        def rows(r):  # type: ignore[no-untyped-def]
            boxes = np.round(r.boxes_xyxy, 3).tolist()
            return sorted(zip(r.frames.tolist(), r.ids.tolist(), map(tuple, boxes), strict=True))

        same += rows(ours) == rows(theirs)
        sequence = sequence_name(video_id, name)
        gt_theirs[sequence] = (folder / "gt.txt").read_text().splitlines(keepends=True)
        predictions[sequence] = (folder / "predict.txt").read_text()
        lengths[sequence] = video.num_frames
    theirs_score = summarise(run_trackeval(gt_theirs, predictions, lengths)[COMBINED])
    ours_score = evaluate_results(results, index).combined
    return len(lengths), same, theirs_score, ours_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rmot", type=Path, required=True, help="A TransRMOT checkout.")
    options = parser.parse_args()
    rmot = options.rmot.resolve()
    loader_class = load_transrmot_loader(rmot)
    with tempfile.TemporaryDirectory(prefix="uecity-transrmot-") as tmp:
        work = Path(tmp)
        export = make_export(work)
        for label, root in (
            ("global ids (this export)", export),
            ("per-video ids (before)", per_video_copy(export, work / "rk-per-video")),
        ):
            compared, differ, boundary, wrong = check_loader(loader_class, root)
            print(
                f"TransRMOT loader, {label}: {differ} of {compared} boxes differ from MLS-Track's "
                f"reader; {wrong} of {boundary} next-video boxes in boundary clips marked referred"
            )
        for fixed in (False, True):
            sequences, same, theirs, ours = check_writers(
                rmot, export, work / f"results-{fixed}", fixed
            )
            which = "fixed" if fixed else "as published"
            print(
                f"TransRMOT write_gt {which}: equal to ours in {same} of {sequences} sequences; "
                f"perfect tracker HOTA {theirs['HOTA']:.2f} against it, "
                f"{ours['HOTA']:.2f} (LocA {ours['LocA']:.2f}) through `uecity evaluate`"
            )


if __name__ == "__main__":
    main()
