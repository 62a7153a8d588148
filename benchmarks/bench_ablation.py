"""Table 3 ablation: TransRMOT* vs + SGM vs + SGM + SCB, trained for the same budget.

Recipe: build the fixed, seeded benchmark dataset of `ablation_spec.yaml` → `uecity compose`
(test expressions from the training pool) → `uecity export --format refer-kitti` → for each row:
train (`mlstrack.training.Trainer`, the last training videos held out), calibrate the tracker's
thresholds on the held-out videos (`mlstrack.calibration`, the same way for every row), track
the test videos (`mlstrack.inference`), evaluate with TrackEval (`mlstrack.evaluation`) and the
threshold-free diagnostics → print the table side by side (combined, per-expression mean, the
test sequences whose sentence occurs in training, detection-only, referring AUC) and whether
the paper's ordering TransRMOT* < + SGM < + SGM + SCB holds. `--source traffic` builds the
dataset from the scripted traffic of tests/traffic_factory.py instead of `uecity generate`.

    python benchmarks/bench_ablation.py --out /tmp/ablation            # tiny on CPU, ~25 min
    python benchmarks/bench_ablation.py --out /tmp/ablation --preset paper-random --device cuda

Intermediate results are reused: delete a row's folder to retrain it.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlstrack.calibration import calibrate, write_calibration  # noqa: E402
from mlstrack.data import ReferKittiIndex  # noqa: E402
from mlstrack.evaluation import evaluate_results, write_report  # noqa: E402
from mlstrack.evaluation.diagnostics import diagnose, write_diagnostics  # noqa: E402
from mlstrack.inference import load_run, track_dataset  # noqa: E402
from mlstrack.training import TrainConfig, Trainer, load_train_config  # noqa: E402
from tests.traffic_factory import TrafficSpec, build_traffic_dataset  # noqa: E402
from uecity.formats.refer_kitti import ReferKittiTree  # noqa: E402

PAPER_R_CITY = {
    "transrmot": (18.614, 8.9543, 40.145),
    "sgm": (28.128, 15.551, 53.372),
    "sgm_scb": (28.453, 15.88, 53.166),
}
PEDESTRIAN_BGR = (140, 180, 230)


def paint_frames(root: Path) -> None:
    """Draw every box of every frame, filled with its object's colour, far objects first."""
    from uecity.dataset import Dataset

    dataset = Dataset.open(root)
    for video_id in dataset.videos:
        video = dataset.video(video_id)
        info = video.info
        colours = {}
        for record in video.objects():
            rgb = record.colour_rgb
            colours[record.track_id] = (
                tuple(int(c) for c in rgb[::-1]) if rgb is not None else PEDESTRIAN_BGR
            )
        for frame in video.frames():
            image = np.full((info.height, info.width, 3), 90, np.uint8)
            cv2.line(
                image, (0, info.height // 2), (info.width - 1, info.height // 2), (200, 200, 200), 1
            )
            order = np.argsort(frame.boxes.xyxy[:, 3]) if len(frame.boxes.xyxy) else []
            for i in order:
                x1, y1, x2, y2 = (round(float(v)) for v in frame.boxes.xyxy[i])
                colour = colours[int(frame.boxes.track_id[i])]
                cv2.rectangle(image, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, -1)
                cv2.rectangle(image, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), (30, 30, 30), 1)
            video.write_frame(frame.index, image)


def uecity(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "uecity", *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )


def build_export(spec: dict, source: str, spec_path: Path, out: Path) -> Path:
    dataset, export = out / "dataset", out / "export"
    if ReferKittiTree(export).seqmap.is_file():
        return export
    d, c = spec["dataset"], spec["compose"]
    if not (dataset / "dataset.json").is_file():
        if source == "generate":
            uecity("generate", str(spec_path.parent / spec["scene"]), "--out", str(dataset))
        else:
            build_traffic_dataset(
                dataset,
                TrafficSpec(
                    videos=d["videos"],
                    num_frames=d["num_frames"],
                    width=d["width"],
                    height=d["height"],
                    concurrent=d["concurrent"],
                    image_format="png",
                    seed=d["seed"],
                ),
            )
            paint_frames(dataset)
    uecity(
        "compose",
        str(dataset),
        "--expressions-per-video",
        str(c["expressions_per_video"]),
        "--min-objects",
        str(c["min_objects"]),
        "--min-frames",
        str(c["min_frames"]),
        "--test-videos",
        c["test_videos"][source],
        "--seed",
        str(c["seed"]),
        *(["--shared-pool"] if c.get("shared_pool") else []),
        "--show",
        "0",
    )
    uecity("export", str(dataset), "--format", "refer-kitti", "--out", str(export))
    return export


def row_config(spec: dict, overrides: dict) -> TrainConfig:
    """The spec's train config file (the README chain's) with its `train:` changes and
    `overrides`."""
    return load_train_config(spec["train_config"], {**spec.get("train", {}), **overrides})


def run_row(spec: dict, row: dict, export: Path, out: Path, overrides: dict, retrack: bool) -> dict:
    folder = out / "runs" / row["variant"]
    result_file = folder / "row.json"
    if result_file.is_file() and not retrack:
        return json.loads(result_file.read_text())
    previous = json.loads(result_file.read_text()) if result_file.is_file() else {}
    config = row_config(spec, {**overrides, "variant": row["variant"]})
    index = ReferKittiIndex.open(export)
    started = time.perf_counter()
    trainer = Trainer(config, export, folder / "run", index=index)
    result = trainer.train()
    train_seconds = previous.get("train_seconds") or time.perf_counter() - started
    device = trainer.device
    model, settings, model_dir = load_run(folder / "run", device)
    calibration = None
    if trainer.calibration_videos:
        calibration = calibrate(model, index, trainer.calibration_videos, settings)
        write_calibration(calibration, model_dir)
        settings = dataclasses.replace(settings, tracker=calibration.tracker)
    settings = settings.with_tracker(**spec.get("track", {}))  # explicit overrides only
    started = time.perf_counter()
    track_dataset(model, index, folder / "results", settings)
    track_seconds = time.perf_counter() - started
    report = evaluate_results(folder / "results", index)
    write_report(report, folder / "results")
    diagnostics = diagnose(folder / "results", index)
    write_diagnostics(diagnostics, folder / "results")
    train_sentences = {e.sentence for v in index.train_videos for e in index.expressions[v]}
    seen = [
        (v, n)
        for v, n in index.test_sequences
        if index.expression(v, n).sentence in train_sentences
    ]
    seen_report = evaluate_results(folder / "results", index, sequences=seen) if seen else None
    values = {
        "variant": row["variant"],
        "label": row["label"],
        "steps": result.steps,
        "final_loss": result.last.loss if result.last else previous.get("final_loss"),
        "refer_threshold": settings.tracker.refer_threshold,
        "tracker": {
            k: getattr(settings.tracker, k)
            for k in ("new_track_score", "drop_score", "refer_threshold", "min_box_area")
        },
        "calibration_hota": calibration.hota if calibration is not None else None,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "combined": report.combined,
        "mean": report.per_expression_mean,
        "seen": seen_report.combined if seen_report is not None else None,
        "seen_sequences": len(seen),
        "detection_only": diagnostics["detection_only"],
        "referring_auc": diagnostics["overall"]["referring_auc"],
        "train_seconds": round(train_seconds, 1),
        "track_seconds": round(track_seconds, 1),
    }
    result_file.write_text(json.dumps(values, indent=2))
    return values


def table(rows: list[dict], sequences: int) -> str:
    seen = rows[0].get("seen_sequences", 0)
    lines = [
        f"Test: {sequences} (video, expression) sequences ({seen} with a sentence that occurs "
        "in training). Scores in percent; thresholds calibrated per row on held-out training "
        "videos.",
        "",
        "| row | trainable params | HOTA | DetA | AssA | HOTA (mean) | HOTA seen sentences "
        "| detection-only HOTA | referring AUC | β_ref / new-track | paper R-city HOTA / DetA / "
        "AssA | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, m = r["combined"], r["mean"]
        paper = " / ".join(f"{v:.2f}" for v in PAPER_R_CITY[r["variant"]])
        seen_hota = f"{r['seen']['HOTA']:.2f}" if r.get("seen") else "-"
        detection = f"{r['detection_only']['HOTA']:.2f}" if r.get("detection_only") else "-"
        auc = f"{r['referring_auc']:.3f}" if r.get("referring_auc") is not None else "-"
        tracker = r.get("tracker", {})
        thresholds = (
            f"{tracker.get('refer_threshold', '-')} / {tracker.get('new_track_score', '-')}"
        )
        lines.append(
            f"| {r['label']} | {r['parameters']:,} | {c['HOTA']:.2f} | {c['DetA']:.2f} | "
            f"{c['AssA']:.2f} | {m['HOTA']:.2f} | {seen_hota} | {detection} | {auc} | "
            f"{thresholds} | {paper} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def ordering(rows: list[dict], key: str) -> bool:
    hota = [r[key]["HOTA"] for r in rows]
    return all(a < b for a, b in itertools.pairwise(hota))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", type=Path, default=Path(__file__).with_name("ablation_spec.yaml"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/uecity-ablation"))
    parser.add_argument(
        "--source",
        choices=("generate", "traffic"),
        default=None,
        help="Override the spec's dataset source.",
    )
    parser.add_argument("--preset", default=None, help="Override the spec's preset.")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto.")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument(
        "--retrack",
        action="store_true",
        help="Track and evaluate trained rows again (after changing `track:`).",
    )
    args = parser.parse_args()
    spec = yaml.safe_load(args.spec.read_text())
    spec["train_config"] = str(args.spec.parent / spec["train_config"])
    overrides = {
        k: v
        for k, v in {
            "preset": args.preset,
            "device": args.device,
            "max_steps": args.max_steps,
        }.items()
        if v is not None
    }
    if overrides.get("max_steps"):
        overrides["checkpoint_every"] = overrides["max_steps"]
    if args.preset and args.preset != "tiny":
        overrides["model"] = {}  # the paper's thresholds
    torch.set_num_threads(row_config(spec, overrides).num_threads)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    source = args.source or spec.get("source", "generate")
    export = build_export(spec, source, args.spec, args.out)
    index = ReferKittiIndex.open(export)
    print(
        f"dataset ({source}): {len(index.train_videos)} train videos, "
        f"{len(index.test_sequences)} test sequences, built in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    rows = []
    for row in spec["rows"]:
        values = run_row(spec, row, export, args.out, overrides, args.retrack)
        print(
            f"{row['label']}: HOTA {values['combined']['HOTA']:.2f} (train "
            f"{values['train_seconds']:.0f} s, track {values['track_seconds']:.0f} s)",
            flush=True,
        )
        rows.append(values)
    text = table(rows, len(index.test_sequences))
    verdict = (
        f"Paper ordering TransRMOT* < + SGM < + SGM + SCB: combined "
        f"{'holds' if ordering(rows, 'combined') else 'does not hold'}, per-expression "
        f"mean {'holds' if ordering(rows, 'mean') else 'does not hold'}."
    )
    wall = f"Wall time {time.perf_counter() - started:.0f} s (steps per row: {rows[0]['steps']})."
    print("\n" + text + "\n\n" + verdict + "\n" + wall)
    (args.out / "ablation.md").write_text(text + "\n\n" + verdict + "\n" + wall + "\n")
    (args.out / "ablation.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
