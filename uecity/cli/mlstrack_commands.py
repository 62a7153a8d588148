"""`uecity train`, `uecity calibrate`, `uecity track`, `uecity evaluate`: MLS-Track from an
exported Refer-KITTI tree to a HOTA table. Each command parses its options, builds a config and
calls the library."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlstrack.errors import ModelConfigError
from uecity.cli.progress_bars import progress_bars
from uecity.core.atomic import check_creatable
from uecity.core.errors import DatasetError, MissingDependencyError, SpecError, UsageError
from uecity.core.record_io import load_yaml

console = Console(highlight=False)

ExportDir = Annotated[
    Path,
    typer.Argument(
        metavar="EXPORT_DIR",
        show_default=False,
        help="A Refer-KITTI tree (`uecity export DATASET --format refer-kitti`) or the "
        "original Refer-KITTI.",
    ),
]
DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        "-d",
        show_default=False,
        help="The Refer-KITTI tree (EXPORT_DIR) the run was trained on / to score.",
    ),
]
Device = Annotated[
    str | None, typer.Option("--device", help="cpu, cuda or auto (cuda when available).")
]


def _torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError(
            f"MLS-Track needs the `model` extra (pip install 'uecity[model]'): {error}"
        ) from error


@contextlib.contextmanager
def _options_checked() -> Iterator[None]:
    """A config error raised by command-line values alone is a usage error naming the option."""
    try:
        yield
    except (SpecError, ModelConfigError) as error:
        text = re.sub(r"^not a valid [\w ]+: ", "", str(error.args[0]))
        if error.field and not text.startswith(f"{error.field}: "):
            text = f"{error.field}: {text}"
        # each `field: problem` of the one error format names its option instead
        text = re.sub(r"(^|; )(\w+): ", lambda m: f"{m[1]}--{m[2].replace('_', '-')}: ", text)
        raise UsageError(text) from None


def _device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu, cuda or auto, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but no CUDA device is available")
    return device


def train(
    export_dir: ExportDir,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            show_default=False,
            help="Run folder: config, checkpoints, log.csv, model/.",
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            show_default=False,
            help="YAML file of TrainConfig fields (docs/train.md); options below override it.",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="tiny (CPU), paper (pretrained parts) or paper-random."),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option("--variant", help="Table 3 row: transrmot, sgm or sgm_scb (MLS-Track)."),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Training steps (clips).")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option("--checkpoint-every", min=1, help="Steps between checkpoints.")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (not backbone).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed of the run.")] = None,
    device: Device = None,
    num_threads: Annotated[
        int | None, typer.Option("--num-threads", min=1, help="torch threads on CPU (default 1).")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Train MLS-Track on EXPORT_DIR's train videos; resumes when --out holds the same run.

    With `calibration_videos: N` in the config, the last N train videos are held out and the
    tracker's thresholds are calibrated on them after training (RUN/model/calibration.json).

    Multi-GPU: `torchrun --nproc-per-node N -m uecity train ...` (one process per GPU).
    """
    _torch()
    from mlstrack.training import Trainer, load_train_config

    overrides = {
        "preset": preset,
        "variant": variant,
        "max_steps": max_steps,
        "checkpoint_every": checkpoint_every,
        "lr": lr,
        "seed": seed,
        "device": device,
        "num_threads": num_threads,
    }
    with _options_checked():  # a wrong option is named as such (exit 2), not as the config's
        load_train_config(None, overrides)
    check_creatable(out, "--out")
    settings = load_train_config(config, overrides)
    trainer = Trainer(settings, export_dir, out)
    if trainer.resumed_from:
        console.print(f"resuming {out} at step {trainer.resumed_from}")
    if trainer.resumed_from >= settings.max_steps and (out / "model").is_dir():
        console.print(f"{out} is already trained ({settings.max_steps} steps)")
        return
    with progress_bars(console, enabled=progress and trainer.is_main) as report:
        result = trainer.train(report)
    if trainer.is_main:
        last = f", last loss {result.last.loss:.3f}" if result.last else ""
        console.print(
            f"[green]trained[/] {result.steps} steps in {result.seconds:.0f} s{last}; "
            f"model: {result.model_dir}"
        )
        if trainer.calibration_videos and result.model_dir is not None:
            _calibrate(out, export_dir, trainer.calibration_videos, device, progress=progress)


def _calibrate(
    run: Path, data: Path, videos: list[str], device: str | None, *, progress: bool = True
) -> None:
    import torch

    from mlstrack.calibration import calibrate as calibrate_model
    from mlstrack.calibration import write_calibration
    from mlstrack.data import ReferKittiIndex
    from mlstrack.inference import load_run

    if _device(device) == "cpu":
        torch.set_num_threads(1)
    index = ReferKittiIndex.open(data)
    model, settings, folder = load_run(run, _device(device))
    console.print(f"calibrating the tracker on held-out training videos {', '.join(videos)}")
    with progress_bars(console, enabled=progress) as report:
        result = calibrate_model(model, index, videos, settings, progress=report)
    path = write_calibration(result, folder)
    chosen = ", ".join(f"{k} {v:g}" for k, v in result.chosen.items())
    console.print(
        f"[green]calibrated[/] {chosen} (held-out combined HOTA {result.hota:.2f}, "
        f"{result.sequences} sequences, {result.seconds:.0f} s) → {path}"
    )


def calibrate(
    run: Annotated[
        Path, typer.Argument(metavar="RUN", show_default=False, help="A training run folder.")
    ],
    data: DataOption,
    videos: Annotated[
        str | None,
        typer.Option(
            "--videos",
            help="Comma-separated training videos to calibrate on (default: the run's held-out "
            "calibration videos). Never use test videos.",
        ),
    ] = None,
    device: Device = None,
) -> None:
    """Choose the tracker thresholds (new-track, drop, β_ref, minimum box area) on held-out
    training videos and store them with the run's model (calibration.json)."""
    _torch()
    from mlstrack.checkpoint import CheckpointError
    from mlstrack.data import ReferKittiIndex
    from mlstrack.training.trainer import CONFIG_FILE, split_calibration

    if not run.is_dir():  # named as `track` names it, not as a run without held-out videos
        raise CheckpointError(
            "not a training run folder (it does not exist or is a file); expected the --out "
            "of `uecity train`",
            path=run,
        )
    if videos:
        chosen = [v.strip() for v in videos.split(",") if v.strip()]
    else:
        saved = run / CONFIG_FILE
        count = 0
        if saved.is_file():
            count = int(
                (load_yaml(saved, what="run's train config") or {}).get("calibration_videos", 0)
            )
        if count == 0:
            raise UsageError(
                f"{run} holds no videos out for calibration (calibration_videos is 0): pass "
                "--videos with training videos the model was not trained on"
            )
        chosen = split_calibration(ReferKittiIndex.open(data), count)[1]
    index = ReferKittiIndex.open(data)
    test_videos = {v for v, _ in index.test_sequences}
    leaked = sorted(set(chosen) & test_videos)
    if leaked:
        raise UsageError(
            f"--videos names test videos ({', '.join(leaked)}): calibrate on "
            "held-out training videos only"
        )
    unknown = sorted(set(chosen) - set(index.videos))
    if unknown:
        raise UsageError(f"--videos: unknown videos {', '.join(unknown)}")
    _calibrate(run, data, chosen, device)


def track(
    run: Annotated[
        Path,
        typer.Argument(
            metavar="RUN", show_default=False, help="A training run folder (or a model folder)."
        ),
    ],
    data: DataOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            show_default=False,
            help="Results folder: <video>/<expression>/predict.txt.",
        ),
    ],
    video: Annotated[
        bool,
        typer.Option("--video/--no-video", help="Also write referred.mp4 with the boxes drawn."),
    ] = False,
    device: Device = None,
    short_side: Annotated[
        int | None,
        typer.Option("--short-side", min=16, help="Frame short side (default: the run's)."),
    ] = None,
    new_track_score: Annotated[
        float | None,
        typer.Option(
            "--new-track-score",
            help="Score that starts a track (default: the run's tracker config, else 0.7).",
        ),
    ] = None,
    drop_score: Annotated[
        float | None,
        typer.Option(
            "--drop-score", help="Score under which a track counts a miss (calibrated, else 0.6)."
        ),
    ] = None,
    miss_tolerance: Annotated[
        int | None,
        typer.Option("--miss-tolerance", min=1, help="Misses before a track is dropped (5)."),
    ] = None,
    refer_threshold: Annotated[
        float | None,
        typer.Option(
            "--refer-threshold",
            help="β_ref: referring score to output a box (calibrated, else 0.5).",
        ),
    ] = None,
    min_box_area: Annotated[
        float | None,
        typer.Option(
            "--min-box-area", help="Smallest output box, a share of the frame (calibrated, else 0)."
        ),
    ] = None,
) -> None:
    """Track every test (video, expression) of --data online and write MOTChallenge files.

    Thresholds: the run's tracker config (RUN/model/tracker.json, calibrated when the run was);
    each option overrides."""
    _torch()
    import torch

    from mlstrack.data import ReferKittiIndex
    from mlstrack.inference import load_run, track_dataset

    if _device(device) == "cpu":
        torch.set_num_threads(1)  # the tiny model only loses from intra-op threads
    index = ReferKittiIndex.open(data)
    model, settings, folder = load_run(run, _device(device))
    with _options_checked():
        settings = settings.with_tracker(
            new_track_score=new_track_score,
            drop_score=drop_score,
            miss_tolerance=miss_tolerance,
            refer_threshold=refer_threshold,
            min_box_area=min_box_area,
        )
    if settings.calibrated:
        console.print(
            "thresholds: "
            + ", ".join(
                f"{k} {getattr(settings.tracker, k):g}"
                for k in ("new_track_score", "drop_score", "refer_threshold", "min_box_area")
            )
            + " (calibrated unless overridden)"
        )
    if short_side is not None:
        settings = dataclasses.replace(settings, short_side=short_side)
    with progress_bars(console) as report:
        summary = track_dataset(
            model, index, out, settings, video=video, checkpoint=str(folder), progress=report
        )
    console.print(
        f"[green]tracked[/] {summary.sequences} sequences ({summary.frames} frames, "
        f"{summary.boxes} referred boxes) in {summary.seconds:.0f} s into {out}"
    )


def evaluate(
    results: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS", show_default=False, help="The folder `uecity track` wrote."
        ),
    ],
    data: DataOption,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            show_default=False,
            help="The native UE-City dataset, for per-atom scores from its expressions' atoms "
            "(default: atoms from the sentences' words).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            show_default=False,
            help="Where evaluation.json / .md go (default: RESULTS).",
        ),
    ] = None,
) -> None:
    """HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA through TrackEval: combined and
    per-expression mean, per video and per atom, as evaluation.json and evaluation.md; the
    threshold-free diagnostics (detection-only row, referring AUC, live tracks on objects vs
    background, seen vs unseen sentences) as diagnostics.json / .md; the run's learning curve
    as learning_curve.png. Needs the `evaluation` extra, not torch."""
    _evaluation_dependencies()
    from mlstrack.data import ReferKittiIndex
    from mlstrack.evaluation import METRIC_FIELDS, evaluate_results, write_report

    index = ReferKittiIndex.open(data)
    atoms = None if dataset is None else _native_atoms(dataset)
    report = evaluate_results(
        results,
        index,
        atoms_by_expression=atoms,
        atom_source=f"atoms of the native dataset {dataset}",
    )
    json_path, markdown_path = write_report(report, out or results)
    table = Table(title=f"TrackEval HOTA, {len(report.per_sequence)} sequences")
    table.add_column("")
    for name in METRIC_FIELDS:
        table.add_column(name, justify="right")
    for label, scores in (
        ("combined", report.combined),
        ("per-expression mean", report.per_expression_mean),
    ):
        table.add_row(label, *(f"{scores[n]:.2f}" for n in METRIC_FIELDS))
    console.print(table)
    console.print(f"[green]wrote[/] {json_path} and {markdown_path}")
    _diagnostics(results, index, out or results)


def _evaluation_dependencies() -> None:
    for module in ("scipy", "trackeval", "matplotlib"):
        try:
            __import__(module)
        except ImportError as error:
            raise MissingDependencyError(
                "uecity evaluate needs the `evaluation` extra (pip install "
                f"'uecity[evaluation]'; torch is not needed): {error}"
            ) from error


def _native_atoms(dataset_root: Path) -> dict[tuple[str, str], list[str]]:
    """(video, expression id) → the atom ids of a native dataset's expressions."""
    from uecity.dataset import Dataset

    dataset = Dataset.open(dataset_root)
    return {
        (video_id, expression.expression_id): list(expression.atoms)
        for video_id in dataset.videos
        for expression in dataset.video(video_id).expressions()
    }


def _diagnostics(results: Path, index, out: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from mlstrack.evaluation.diagnostics import diagnose, learning_curve, write_diagnostics
    from mlstrack.tracking_results import SUMMARY_FILE

    try:
        found = diagnose(results, index)
    except DatasetError as error:  # results of an older `uecity track`: no tracks.txt
        console.print(f"[yellow]no diagnostics[/]: {error}")
        return
    paths = write_diagnostics(found, out)
    overall, detection = found["overall"], found["detection_only"]
    auc = overall["referring_auc"]
    seen, unseen = found["seen_sentences"], found["unseen_sentences"]
    console.print(
        f"detection-only HOTA {detection['HOTA']:.2f}; referring AUC "
        f"{'-' if auc is None else f'{auc:.3f}'} (seen sentences "
        f"{_auc(seen['referring_auc'])}, unseen {_auc(unseen['referring_auc'])}); live tracks "
        f"per frame on objects {overall['live_tracks_on_objects_per_frame']:.1f}, on background "
        f"{overall['live_tracks_on_background_per_frame']:.1f}; objects localised "
        f"{100 * (overall['localised_share'] or 0):.1f} %"
    )
    console.print(f"[green]wrote[/] {paths[0]} and {paths[1]}")
    summary = results / SUMMARY_FILE
    if summary.is_file():
        checkpoint = Path(json.loads(summary.read_text(encoding="utf-8")).get("checkpoint", ""))
        for run in (checkpoint, checkpoint.parent, checkpoint.parent.parent.parent):
            curve = learning_curve(run, out) if (run / "log.csv").is_file() else None
            if curve is not None:
                console.print(f"[green]wrote[/] {curve}")
                break


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
