"""`uecity export --format mot`: MOTChallenge ground truth per (video, expression), for TrackEval.

Each expression is one sequence named `<video>+<expression>`, laid out the way TrackEval's
`MotChallenge2DBox` dataset finds it with its default settings:

```
<out>/<benchmark>-<split>/<video>+<expression>/gt/gt.txt     frame,id,x,y,w,h,1,1,1
<out>/<benchmark>-<split>/<video>+<expression>/seqinfo.ini   seqLength = the video's frames
<out>/seqmaps/<benchmark>-<split>.txt                        "name", then one sequence a line
```

Lines, frames, sequence names, seqmaps and the layout are `uecity.formats.mot_challenge`'s:
frames are 1-based in `gt.txt` (frame 0 of the dataset is line frame 1), boxes are pixels as
`x, y, w, h` at full precision, class 1 (TrackEval's "pedestrian", the class RMOT evaluation
scores). Track ids are the native dataset's. Evaluate with `GT_FOLDER=<out>`,
`BENCHMARK=<benchmark>`, `SPLIT_TO_EVAL=<split>`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from uecity.core.errors import DatasetError
from uecity.dataset import Dataset, check_referents
from uecity.export.output import ExportFolder, ExportSummary
from uecity.formats.mot_challenge import (
    box_lines,
    gt_file,
    seqinfo_file,
    seqinfo_text,
    seqmap_file,
    seqmap_text,
    sequence_name,
    split_folder,
)
from uecity.records import Expression

logger = logging.getLogger(__name__)

DEFAULT_BENCHMARK = "refer-ue-city"


def gt_lines(expression: Expression, boxes: dict[tuple[int, int], np.ndarray]) -> list[str]:
    """`frame,id,x,y,w,h,1,1,1` lines of an expression, frames 1-based, ascending."""
    lines = []
    for key in sorted(expression.label, key=int):
        frame = int(key)
        tracks = sorted(expression.label[key])
        missing = [t for t in tracks if (frame, t) not in boxes]
        if missing:
            raise DatasetError(
                f"expression '{expression.expression_id}' refers to track {missing[0]} at frame "
                f"{frame}, which has no box there",
                field=f"label.{key}",
            )
        lines += box_lines(frame, tracks, np.array([boxes[(frame, t)] for t in tracks]))
    return lines


def export_mot(
    dataset: Dataset, out: Path, *, force: bool = False, benchmark: str = DEFAULT_BENCHMARK
) -> ExportSummary:
    """Write MOTChallenge ground truth of every expression of `dataset`, one seqmap per split."""
    started = time.perf_counter()
    splits = dataset.manifest.splits or {"all": dataset.videos}
    expressions = {v: dataset.video(v).expressions() for v in dataset.videos}
    if not any(expressions.values()):
        raise DatasetError(
            "the dataset has no expressions to export (run `uecity compose` first)",
            path=dataset.root,
        )
    folder = ExportFolder(out, "mot", force=force)
    summary = ExportSummary(out=out, export_format="mot")
    # Every file's text first: a refused export (a bad expression anywhere) writes nothing.
    texts: dict[str, str] = {}
    for split, members in splits.items():
        names = []
        for video_id in members:
            video = dataset.video(video_id)
            info = video.info
            video_boxes = video.boxes()
            boxes = dict(zip(video_boxes.frame_track_pairs(), video_boxes.xyxy, strict=True))
            for expression in expressions[video_id]:
                check_referents(
                    expression,
                    boxes,
                    info.num_frames,
                    video.expressions_folder / f"{expression.expression_id}.json",
                )
                name = sequence_name(video_id, expression.expression_id)
                names.append(name)
                base = split_folder(benchmark, split)
                texts[f"{base}/{gt_file(name)}"] = "".join(gt_lines(expression, boxes))
                texts[f"{base}/{seqinfo_file(name)}"] = seqinfo_text(
                    name, info.num_frames, info.width, info.height, info.fps
                )
        texts[seqmap_file(benchmark, split)] = seqmap_text(names, header=True)
    folder.begin(texts)
    for relative, text in texts.items():
        summary.add(*((1, 0) if folder.write(relative, text.encode()) else (0, 1)))
    folder.finish(summary)
    summary.seconds = time.perf_counter() - started
    return summary
