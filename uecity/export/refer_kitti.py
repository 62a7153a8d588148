"""`uecity export --format refer-kitti`: the exact Refer-KITTI tree, for TransRMOT-style loaders.

The layout is `uecity.formats.refer_kitti`'s:

```
<out>/KITTI/training/image_02/<vid>/000000.png          frames (PNG: the loaders require it)
<out>/KITTI/labels_with_ids/image_02/<vid>/000000.txt   `0 <id> <x1/W> <y1/H> <w/W> <h/H>`
<out>/expression/<vid>/<expression_id>.json            label / ignore / video_name / sentence
<out>/refer-kitti.train                                 train frames, one relative path a line
<out>/seqmap.txt                                        test `<video>+<expression>` lines
<out>/native_ids.json                                   export video / track id -> native ones
```

Track ids are global, as in Refer-KITTI: the videos in the dataset's order, each video's native
ids ascending, numbered 0, 1, 2, ... across the whole tree; labels and expressions use them and
`native_ids.json` maps them back. Videos keep their native names, or with
`video_names="refer-kitti"` are named as Refer-KITTI's are, four digits in the dataset's order
(`0000`, `0001`, ...), which TransRMOT's code expects.

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

from uecity.child_processes import die_with_parent
from uecity.core.atomic import atomic_path, atomic_write_bytes, dumps_json
from uecity.core.box_formats import xyxy_to_refer_kitti_x1y1wh_normalised
from uecity.core.errors import DatasetError, UsageError
from uecity.dataset import Dataset, Video, check_referents
from uecity.export import VIDEO_NAMINGS
from uecity.export.output import (
    ExportFolder,
    ExportSummary,
    source_fingerprint,
    up_to_date,
    write_if_changed,
)
from uecity.formats.mot_challenge import sequence_name
from uecity.formats.refer_kitti import (
    NATIVE_IDS,
    SEQMAP,
    TRAIN_LIST,
    expression_file,
    expression_json,
    image_file,
    label_file,
    label_line,
    native_ids_json,
    refer_kitti_video_name,
    train_list_text,
)
from uecity.image_files import ImageFileProblem, image_size_wh
from uecity.records import Expression

logger = logging.getLogger(__name__)

FRAMES_PER_JOB = 64


def export_video_names(videos: list[str], naming: str) -> dict[str, str]:
    """Native video id → its folder name in the export (see the module docstring)."""
    if naming == "native":
        return {v: v for v in videos}
    if naming == "refer-kitti":
        return {v: refer_kitti_video_name(i) for i, v in enumerate(videos)}
    raise UsageError(f"unknown video naming {naming!r} (known: {', '.join(VIDEO_NAMINGS)})")


def global_track_ids(dataset: Dataset) -> dict[str, dict[int, int]]:
    """Native video → (native track id → global id), unique over the whole export."""
    ids: dict[str, dict[int, int]] = {}
    next_id = 0
    for video_id in dataset.videos:
        native = sorted(set(dataset.video(video_id).boxes().track_id.tolist()))
        ids[video_id] = {track: next_id + k for k, track in enumerate(native)}
        next_id += len(native)
    return ids


def refer_kitti_expression(expression: Expression, ids: dict[int, int], video_name: str) -> dict:
    """The Refer-KITTI expression JSON in global ids (ignored ids without a box are dropped)."""
    label = {int(key): [ids[t] for t in tracks] for key, tracks in expression.label.items()}
    ignore = [ids[t] for t in expression.ignore if t in ids]
    return expression_json(label, ignore, video_name, expression.sentence)


@dataclass(frozen=True)
class _FrameJob:
    """A chunk of one video's frames to export (everything a worker process needs)."""

    root: Path
    video_id: str  # the video's name in the export
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
        image_rel = image_file(job.video_id, frame)
        fingerprint = source_fingerprint(source)
        files[image_rel] = fingerprint
        if up_to_date(job.root / image_rel, fingerprint, job.previous, image_rel):
            skipped += 1
        else:
            _place_image(source, job.root / image_rel)
            written += 1
        label_rel = label_file(job.video_id, frame)
        if write_if_changed(
            job.root, label_rel, text.encode(), job.previous, files, verify=job.verify
        ):
            written += 1
        else:
            skipped += 1
    return files, written, skipped


def _label_texts(dataset: Dataset, video_id: str, ids: dict[int, int]) -> list[str]:
    video = dataset.video(video_id)
    info = video.info
    texts = []
    for frame in video.frames():
        normalised = xyxy_to_refer_kitti_x1y1wh_normalised(
            frame.boxes.xyxy, info.width, info.height
        )
        texts.append(
            "".join(
                label_line(ids[int(t)], box)
                for t, box in zip(frame.boxes.track_id, normalised, strict=True)
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


def _jobs(
    dataset: Dataset,
    root: Path,
    previous: dict[str, str],
    verify: bool,
    names: dict[str, str],
    ids: dict[str, dict[int, int]],
) -> list[_FrameJob]:
    jobs = []
    for video_id in dataset.videos:
        video = dataset.video(video_id)
        name = names[video_id]
        texts = _label_texts(dataset, video_id, ids[video_id])
        frames = list(range(video.info.num_frames))
        _check_frame_files(video)
        for start in range(0, len(frames), FRAMES_PER_JOB):
            chunk = frames[start : start + FRAMES_PER_JOB]
            jobs.append(
                _FrameJob(
                    root=root,
                    video_id=name,
                    sources=tuple(video.frame_path(f) for f in chunk),
                    frames=tuple(chunk),
                    lines=tuple(texts[f] for f in chunk),
                    previous={k: v for k, v in previous.items() if k.split("/")[3:4] == [name]},
                    verify=verify,
                )
            )
    return jobs


def export_refer_kitti(
    dataset: Dataset,
    out: Path,
    *,
    workers: int | None = None,
    force: bool = False,
    video_names: str = "native",
) -> ExportSummary:
    """Write the Refer-KITTI tree of `dataset` into `out` (see the module docstring)."""
    started = time.perf_counter()
    names = export_video_names(list(dataset.videos), video_names)
    folder = ExportFolder(out, "refer-kitti", force=force)
    summary = ExportSummary(out=out, export_format="refer-kitti")
    # Everything is read and checked before the first write: a refused export writes nothing.
    ids = global_track_ids(dataset)
    jobs = _jobs(dataset, out, folder.previous, folder.interrupted, names, ids)
    splits = dataset.manifest.splits
    train = splits.get("train", dataset.videos) if splits else dataset.videos
    test = splits.get("test", dataset.videos) if splits else dataset.videos
    texts: dict[str, bytes] = {}
    seqmap: list[str] = []
    expressions = 0
    for video_id in dataset.videos:
        video = dataset.video(video_id)
        boxes = set(video.boxes().frame_track_pairs())
        name = names[video_id]
        for expression in video.expressions():
            source = video.expressions_folder / f"{expression.expression_id}.json"
            check_referents(expression, boxes, video.info.num_frames, source)
            data = refer_kitti_expression(expression, ids[video_id], name)
            texts[expression_file(name, expression.expression_id)] = dumps_json(data).encode()
            expressions += 1
            if video_id in test:
                seqmap.append(f"{sequence_name(name, expression.expression_id)}\n")
    if expressions == 0:
        summary.notes.append("the dataset has no expressions yet (run `uecity compose`)")
    texts[TRAIN_LIST] = train_list_text(
        (names[video_id], frame)
        for video_id in train
        for frame in range(dataset.video(video_id).info.num_frames)
    ).encode()
    texts[SEQMAP] = "".join(seqmap).encode()
    texts[NATIVE_IDS] = dumps_json(
        native_ids_json({names[v]: (v, ids[v], dataset.video(v).info.fps) for v in dataset.videos})
    ).encode()
    folder.begin(
        [
            path(job.video_id, frame)
            for job in jobs
            for frame in job.frames
            for path in (image_file, label_file)
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
