"""`uecity export --format refer-kitti`: the exact Refer-KITTI tree, for TransRMOT-style loaders.

```
<out>/KITTI/training/image_02/<vid>/000000.png          frames (PNG: the loaders require it)
<out>/KITTI/labels_with_ids/image_02/<vid>/000000.txt   `0 <id> <x1/W> <y1/H> <w/W> <h/H>`
<out>/expression/<vid>/<expression_id>.json            label / ignore / video_name / sentence
<out>/refer-kitti.train                                 train frames, one relative path a line
<out>/seqmap                                            test `<video>+<expression>` lines
```

PNG frames are hard-linked (copied across file systems); JPEG frames are decoded and written as
PNG. Frames are spread over a process pool in chunks; a file whose source is unchanged since the
previous export is skipped. Label files list every box of the frame (class 0), 6 decimals.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uecity.child_processes import die_with_parent
from uecity.core.atomic import atomic_path, atomic_write_bytes, dumps_json
from uecity.core.box_formats import xyxy_to_refer_kitti_x1y1wh_normalised
from uecity.core.errors import DatasetError
from uecity.dataset import Dataset, Video, check_referents
from uecity.export.output import (
    ExportFolder,
    ExportSummary,
    source_fingerprint,
    up_to_date,
    write_if_changed,
)
from uecity.image_files import ImageFileProblem, image_size_wh
from uecity.records import Expression

logger = logging.getLogger(__name__)

IMAGE_ROOT = "KITTI/training/image_02"
LABEL_ROOT = "KITTI/labels_with_ids/image_02"
EXPRESSION_ROOT = "expression"
TRAIN_LIST = "refer-kitti.train"
SEQMAP = "seqmap"
FRAMES_PER_JOB = 64


def label_line(track_id: int, x1y1wh_normalised: np.ndarray) -> str:
    """One Refer-KITTI label line: class 0, the track id, normalised top-left and size."""
    x, y, w, h = (float(v) for v in x1y1wh_normalised)
    return f"0 {int(track_id)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n"


def refer_kitti_expression(expression: Expression) -> dict:
    """The Refer-KITTI expression JSON: exactly its four keys, frame keys ascending."""
    label = {key: list(expression.label[key]) for key in sorted(expression.label, key=int)}
    return {
        "label": label,
        "ignore": list(expression.ignore),
        "video_name": expression.video_name,
        "sentence": expression.sentence,
    }


@dataclass(frozen=True)
class _FrameJob:
    """A chunk of one video's frames to export (everything a worker process needs)."""

    root: Path
    video_id: str
    sources: tuple[Path, ...]
    frames: tuple[int, ...]
    lines: tuple[str, ...]  # the label file text of each frame
    previous: dict[str, str]
    verify: bool  # the last export was interrupted: compare label files by content


def _place_image(source: Path, target: Path) -> None:
    if source.suffix.lower() == ".png":
        with contextlib.suppress(OSError):
            if os.path.samefile(source, target):
                # Already the link (an interrupted export made it): a rename of a second link
                # onto it would do nothing and leave the temporary behind.
                return
        with atomic_path(target, durable=False) as temporary:
            temporary.unlink()
            try:
                os.link(source, temporary)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(source, temporary)
        return
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError("frame cannot be decoded", path=source)
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise DatasetError("frame cannot be encoded as PNG", path=source)
    atomic_write_bytes(target, buffer.tobytes(), durable=False)


def _run_job(job: _FrameJob) -> tuple[dict[str, str], int, int]:
    files: dict[str, str] = {}
    written = skipped = 0
    for source, frame, text in zip(job.sources, job.frames, job.lines, strict=True):
        image_rel = f"{IMAGE_ROOT}/{job.video_id}/{frame:06d}.png"
        fingerprint = source_fingerprint(source)
        files[image_rel] = fingerprint
        if up_to_date(job.root / image_rel, fingerprint, job.previous, image_rel):
            skipped += 1
        else:
            _place_image(source, job.root / image_rel)
            written += 1
        label_rel = f"{LABEL_ROOT}/{job.video_id}/{frame:06d}.txt"
        if write_if_changed(
            job.root, label_rel, text.encode(), job.previous, files, verify=job.verify
        ):
            written += 1
        else:
            skipped += 1
    return files, written, skipped


def _label_texts(dataset: Dataset, video_id: str) -> list[str]:
    video = dataset.video(video_id)
    info = video.info
    texts = []
    for frame in video.frames():
        normalised = xyxy_to_refer_kitti_x1y1wh_normalised(
            frame.boxes.xyxy, info.width, info.height
        )
        texts.append(
            "".join(
                label_line(t, box) for t, box in zip(frame.boxes.track_id, normalised, strict=True)
            )
        )
    return texts


def _check_frame_files(video: Video) -> None:
    """Refuse missing, truncated or wrongly sized frames before anything is written (headers
    and trailers only: a truncated JPEG would otherwise become a half-grey PNG)."""
    info = video.info
    bad: list[tuple[int, str]] = []
    for frame in range(info.num_frames):
        try:
            size = image_size_wh(video.frame_path(frame))
        except ImageFileProblem as problem:
            bad.append((frame, str(problem)))
            continue
        if size != (info.width, info.height):
            bad.append((frame, f"is {size[0]}x{size[1]}, not {info.width}x{info.height}"))
    if bad:
        frame, why = bad[0]
        raise DatasetError(
            f"{len(bad)} frame file(s) cannot be exported (first: {video.frame_path(frame).name}: "
            f"{why}); run `uecity validate` for the full list",
            path=video.frames_folder,
        )


def _jobs(dataset: Dataset, root: Path, previous: dict[str, str], verify: bool) -> list[_FrameJob]:
    jobs = []
    for video_id in dataset.videos:
        video = dataset.video(video_id)
        texts = _label_texts(dataset, video_id)
        frames = list(range(video.info.num_frames))
        _check_frame_files(video)
        for start in range(0, len(frames), FRAMES_PER_JOB):
            chunk = frames[start : start + FRAMES_PER_JOB]
            jobs.append(
                _FrameJob(
                    root=root,
                    video_id=video_id,
                    sources=tuple(video.frame_path(f) for f in chunk),
                    frames=tuple(chunk),
                    lines=tuple(texts[f] for f in chunk),
                    previous={k: v for k, v in previous.items() if k.split("/")[3:4] == [video_id]},
                    verify=verify,
                )
            )
    return jobs


def export_refer_kitti(
    dataset: Dataset, out: Path, *, workers: int | None = None, force: bool = False
) -> ExportSummary:
    """Write the Refer-KITTI tree of `dataset` into `out` (see the module docstring)."""
    started = time.perf_counter()
    folder = ExportFolder(out, "refer-kitti", force=force)
    summary = ExportSummary(out=out, export_format="refer-kitti")
    # Everything is read and checked before the first write: a refused export writes nothing.
    jobs = _jobs(dataset, out, folder.previous, folder.interrupted)
    splits = dataset.manifest.splits
    train = splits.get("train", dataset.videos) if splits else dataset.videos
    test = splits.get("test", dataset.videos) if splits else dataset.videos
    texts: dict[str, bytes] = {}
    seqmap: list[str] = []
    expressions = 0
    for video_id in dataset.videos:
        video = dataset.video(video_id)
        boxes = video.box_keys()
        for expression in video.expressions():
            relative = f"{EXPRESSION_ROOT}/{video_id}/{expression.expression_id}.json"
            source = video.expressions_folder / f"{expression.expression_id}.json"
            check_referents(expression, boxes, video.info.num_frames, source)
            texts[relative] = dumps_json(refer_kitti_expression(expression)).encode()
            expressions += 1
            if video_id in test:
                seqmap.append(f"{video_id}+{expression.expression_id}\n")
    if expressions == 0:
        summary.notes.append("the dataset has no expressions yet (run `uecity compose`)")
    train_lines = [
        f"{IMAGE_ROOT}/{video_id}/{frame:06d}.png\n"
        for video_id in train
        for frame in range(dataset.video(video_id).info.num_frames)
    ]
    texts[TRAIN_LIST] = "".join(train_lines).encode()
    texts[SEQMAP] = "".join(seqmap).encode()
    folder.begin(
        [
            f"{root}/{job.video_id}/{frame:06d}.{ext}"
            for job in jobs
            for frame in job.frames
            for root, ext in ((IMAGE_ROOT, "png"), (LABEL_ROOT, "txt"))
        ]
        + list(texts)
    )
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            results = list(pool.map(_run_job, jobs))
    else:
        results = [_run_job(job) for job in jobs]
    for files, written, skipped in results:
        folder.files.update(files)
        summary.add(written, skipped)
    for relative, data in texts.items():
        summary.add(*((1, 0) if folder.write(relative, data) else (0, 1)))
    folder.finish(summary)
    summary.seconds = time.perf_counter() - started
    logger.info(
        "refer-kitti export: %d written, %d up to date, %d removed in %.1f s",
        summary.written,
        summary.skipped,
        summary.removed,
        summary.seconds,
    )
    return summary
