"""`uecity export --format mot`: MOTChallenge ground truth per (video, expression), for TrackEval.

Each expression is one sequence named `<video>+<expression>`, laid out the way TrackEval's
`MotChallenge2DBox` dataset finds it with its default settings:

```
<out>/<benchmark>-<split>/<video>+<expression>/gt/gt.txt     frame,id,x,y,w,h,1,1,1
<out>/<benchmark>-<split>/<video>+<expression>/seqinfo.ini   seqLength = the video's frames
<out>/seqmaps/<benchmark>-<split>.txt                        "name", then one sequence a line
```

Frames are 1-based in `gt.txt` (frame 0 of the dataset is line frame 1), boxes are pixels as
`x, y, w, h`, class 1 (TrackEval's "pedestrian", the class RMOT evaluation scores). Evaluate
with `GT_FOLDER=<out>`, `BENCHMARK=<benchmark>`, `SPLIT_TO_EVAL=<split>`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from uecity.core.box_formats import xyxy_to_mot_xywh
from uecity.core.errors import DatasetError
from uecity.dataset import Dataset, check_referents
from uecity.export.output import ExportFolder, ExportSummary
from uecity.records import Expression

logger = logging.getLogger(__name__)

DEFAULT_BENCHMARK = "refer-ue-city"


def sequence_name(video_id: str, expression_id: str) -> str:
    return f"{video_id}+{expression_id}"


def gt_lines(expression: Expression, boxes: dict[tuple[int, int], np.ndarray]) -> list[str]:
    """`frame,id,x,y,w,h,1,1,1` lines of an expression, frames 1-based, ascending."""
    lines = []
    for key in sorted(expression.label, key=int):
        frame = int(key)
        for track in sorted(expression.label[key]):
            xyxy = boxes.get((frame, track))
            if xyxy is None:
                raise DatasetError(
                    f"expression '{expression.expression_id}' refers to track {track} at frame "
                    f"{frame}, which has no box there",
                    field=f"label.{key}",
                )
            x, y, w, h = xyxy_to_mot_xywh(xyxy)[0]
            lines.append(f"{frame + 1},{track},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,1,1\n")
    return lines


def seqinfo(name: str, length: int, width: int, height: int, fps: float) -> str:
    return (
        "[Sequence]\n"
        f"name={name}\n"
        f"frameRate={fps:g}\n"
        f"seqLength={length}\n"
        f"imWidth={width}\n"
        f"imHeight={height}\n"
        "imExt=.png\n"
    )


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
            table = video.boxes_table()
            xyxy = np.stack([table.column(c).to_numpy() for c in ("x1", "y1", "x2", "y2")], 1)
            boxes = {
                (int(f), int(t)): xyxy[i]
                for i, (f, t) in enumerate(
                    zip(
                        table.column("frame").to_numpy(),
                        table.column("track_id").to_numpy(),
                        strict=True,
                    )
                )
            }
            for expression in expressions[video_id]:
                check_referents(
                    expression,
                    boxes,
                    info.num_frames,
                    video.expressions_folder / f"{expression.expression_id}.json",
                )
                name = sequence_name(video_id, expression.expression_id)
                names.append(name)
                base = f"{benchmark}-{split}/{name}"
                texts[f"{base}/gt/gt.txt"] = "".join(gt_lines(expression, boxes))
                texts[f"{base}/seqinfo.ini"] = seqinfo(
                    name, info.num_frames, info.width, info.height, info.fps
                )
        texts[f"seqmaps/{benchmark}-{split}.txt"] = "name\n" + "".join(f"{n}\n" for n in names)
    folder.begin(texts)
    for relative, text in texts.items():
        summary.add(*((1, 0) if folder.write(relative, text.encode()) else (0, 1)))
    folder.finish(summary)
    summary.seconds = time.perf_counter() - started
    return summary
