import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.factories import build_small_dataset
from uecity.export import export_dataset
from uecity.language.compose import compose_dataset
from uecity.language.composition import CompositionConfig
from uecity.language.vocabulary import load_vocabulary


def test_gt_is_one_based_xywh(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    out = tmp_path / "mot"
    export_dataset(dataset, out, "mot")
    gt = out / "refer-ue-city-train/0001+red-cars/gt/gt.txt"
    lines = gt.read_text().splitlines()
    # Frame 0, track 0 at xyxy (2, 4, 20, 16) → frame 1, x 2, y 4, w 18, h 12.
    assert lines[0] == "1,0,2,4,18,12,1,1,1"  # full precision, no rounding
    assert len(lines) == 5 and lines[-1].startswith("5,0,")
    assert (out / "seqmaps/refer-ue-city-test.txt").read_text() == "name\n0002+red-cars\n"
    assert "seqLength=5" in (out / "refer-ue-city-train/0001+red-cars/seqinfo.ini").read_text()


def _hota(out: Path, trackers: Path, split: str) -> float:
    trackeval = pytest.importorskip("trackeval")
    evaluator = trackeval.Evaluator(
        {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "PRINT_ONLY_COMBINED": True,
            "TIME_PROGRESS": False,
            "OUTPUT_EMPTY_CLASSES": False,
        }
    )
    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(out),
            "TRACKERS_FOLDER": str(trackers),
            "BENCHMARK": "refer-ue-city",
            "SPLIT_TO_EVAL": split,
            "TRACKERS_TO_EVAL": ["copy"],
            "DO_PREPROC": False,
            "PRINT_CONFIG": False,
            "SKIP_SPLIT_FOL": False,
        }
    )
    results, _ = evaluator.evaluate([dataset], [trackeval.metrics.HOTA({"PRINT_CONFIG": False})])
    hota = results["MotChallenge2DBox"]["copy"]["COMBINED_SEQ"]["pedestrian"]["HOTA"]["HOTA"]
    return float(np.mean(hota))


def test_trackeval_reads_the_export(traffic, tmp_path):
    compose_dataset(traffic, load_vocabulary(), CompositionConfig(expressions_per_video=4), seed=0)
    out = tmp_path / "mot"
    export_dataset(traffic, out, "mot")
    split = "test"
    names = (out / f"seqmaps/refer-ue-city-{split}.txt").read_text().split()[1:]
    assert names
    trackers = tmp_path / "trackers" / f"refer-ue-city-{split}" / "copy" / "data"
    trackers.mkdir(parents=True)
    for name in names:
        gt = out / f"refer-ue-city-{split}" / name / "gt" / "gt.txt"
        shutil.copy(gt, trackers / f"{name}.txt")
    assert _hota(out, tmp_path / "trackers", split) == pytest.approx(1.0)
    # A one-frame shift of the predictions must not score 100.
    for name in names:
        shifted = []
        for line in (trackers / f"{name}.txt").read_text().splitlines():
            frame, rest = line.split(",", 1)
            if int(frame) > 1:
                shifted.append(f"{int(frame) - 1},{rest}")
        (trackers / f"{name}.txt").write_text("\n".join(shifted) + "\n")
    assert _hota(out, tmp_path / "trackers", split) < 0.99
