"""Run TrackEval's `MotChallenge2DBox` + `HOTA` on a folder laid out the way it wants.

Each (video, expression) is one sequence `<video>+<expression>`. The ground truth is written
from the Refer-KITTI labels and the expression by the same writer as the tracker's predictions
(`uecity.formats.mot_challenge.box_lines`: the referred objects of 0-based frame f, the image
`%06d.png` of f, become MOTChallenge frame f + 1, at full precision). TransRMOT's public
evaluation wrote the ground truth one frame off from the predictions; a test proves ground
truth fed back through the tracker's writer scores HOTA 100 (and LocA exactly 100) and a
one-frame shift scores less. Sequence lengths go to TrackEval as `SEQ_INFO`, so no
`seqinfo.ini` or seqmap file is needed (and expression names with commas are never split). The
metric itself is TrackEval's, never re-implemented here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mlstrack.data.refer_kitti import ReferExpression, ReferKittiIndex
from uecity.core.errors import DatasetError, MissingDependencyError
from uecity.formats.mot_challenge import box_lines, gt_file, tracker_file

logger = logging.getLogger(__name__)

METRIC_FIELDS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA")
CLASS = "pedestrian"  # TrackEval's class 1, the one RMOT evaluation scores
TRACKER = "mlstrack"
COMBINED = "COMBINED_SEQ"


def _trackeval():  # type: ignore[no-untyped-def]
    try:
        import trackeval
    except ImportError as error:
        raise MissingDependencyError(
            f"evaluation needs the `trackeval` package (pip install 'uecity[model]'): {error}"
        ) from error
    return trackeval


def gt_lines(index: ReferKittiIndex, expression: ReferExpression) -> list[str]:
    """The expression's ground truth as MOTChallenge lines (`box_lines`: frames 1-based)."""
    video = index.videos[expression.video_id]
    lines = []
    for frame in range(video.num_frames):
        referred = expression.referred_at(frame)
        if not referred:
            continue
        labels = video.labels(frame)
        keep = np.isin(labels.ids, list(referred))
        lines += box_lines(frame, labels.ids[keep], labels.boxes_xyxy[keep])
    return lines


def run_trackeval(
    gt: dict[str, list[str]], predictions: dict[str, str], lengths: dict[str, int]
) -> dict[str, dict]:
    """TrackEval's HOTA result per sequence and `COMBINED_SEQ`.

    gt: sequence → gt lines; predictions: sequence → predict.txt text; lengths: frames per
    sequence. Returns sequence → TrackEval's HOTA result dict (arrays over α).
    """
    trackeval = _trackeval()
    with tempfile.TemporaryDirectory(prefix="uecity-trackeval-") as tmp:
        root = Path(tmp)
        for sequence, lines in gt.items():
            path = root / "gt" / gt_file(sequence)
            path.parent.mkdir(parents=True)
            path.write_text("".join(lines), encoding="utf-8")
        (root / "trackers" / TRACKER / "data").mkdir(parents=True)
        for sequence, text in predictions.items():
            (root / "trackers" / tracker_file(TRACKER, sequence)).write_text(text, encoding="utf-8")
        dataset_config = {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "OUTPUT_FOLDER": str(root / "output"),
            "TRACKERS_TO_EVAL": [TRACKER],
            "CLASSES_TO_EVAL": [CLASS],
            "BENCHMARK": "refer-ue-city",
            "SPLIT_TO_EVAL": "test",
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": dict(lengths),
            "DO_PREPROC": True,
            "PRINT_CONFIG": False,
        }
        eval_config = {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "LOG_ON_ERROR": None,
            "BREAK_ON_ERROR": True,
            "DISPLAY_LESS_PROGRESS": True,
        }
        printed = io.StringIO()
        try:
            # TrackEval prints progress and, on an error, whole tracebacks: kept for -vv only.
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                evaluator = trackeval.Evaluator(eval_config)
                dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
                results, _ = evaluator.evaluate([dataset], [trackeval.metrics.HOTA()])
        except trackeval.utils.TrackEvalException as error:
            raise DatasetError(f"TrackEval rejected the files: {error}") from None
        finally:
            logger.debug("TrackEval output:\n%s", printed.getvalue())
            shutil.rmtree(root / "output", ignore_errors=True)
    per_sequence = results["MotChallenge2DBox"][TRACKER]
    return {sequence: value[CLASS]["HOTA"] for sequence, value in per_sequence.items()}


def summarise(hota: dict) -> dict[str, float]:
    """TrackEval's summary of one HOTA result: each field's mean over α, in percent."""
    return {name: float(np.mean(hota[name])) * 100 for name in METRIC_FIELDS}


def combine(results: dict[str, dict], sequences: list[str]) -> dict[str, float]:
    """TrackEval's combination (`HOTA.combine_sequences`) of a subset of sequences."""
    trackeval = _trackeval()
    subset = {s: results[s] for s in sequences}
    return summarise(trackeval.metrics.HOTA().combine_sequences(subset))
