"""`uecity export --format cvat`: CVAT for video 1.1 XML of the boxes and motion intervals.

One file per video, `<out>/<vid>.xml`, for people who review the motion labels in CVAT: each
object is a `<track>` labelled with its category; each of its boxes carries one checkbox
attribute per motion label of the video (true on the frames its intervals cover) and the
object's type and colour. A track is closed by an `outside` box after its last frame.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from uecity.dataset import Dataset, Video
from uecity.export.output import ExportFolder, ExportSummary
from uecity.records import ObjectRecord

CATEGORIES = ("vehicle", "pedestrian", "cyclist")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _meta(root: ET.Element, video: Video, motion_labels: list[str]) -> None:
    info = video.info
    task = _sub(_sub(root, "meta"), "task")
    _sub(task, "name", video.video_id)
    _sub(task, "size", str(info.num_frames))
    _sub(task, "mode", "interpolation")
    _sub(task, "overlap", "0")
    _sub(task, "start_frame", "0")
    _sub(task, "stop_frame", str(max(info.num_frames - 1, 0)))
    labels = _sub(task, "labels")
    for category in CATEGORIES:
        label = _sub(labels, "label")
        _sub(label, "name", category)
        attributes = _sub(label, "attributes")
        for name in ("type", "colour"):
            attribute = _sub(attributes, "attribute")
            _sub(attribute, "name", name)
            _sub(attribute, "mutable", "False")
            _sub(attribute, "input_type", "text")
            _sub(attribute, "default_value", "")
            _sub(attribute, "values", "")
        for motion in motion_labels:
            attribute = _sub(attributes, "attribute")
            _sub(attribute, "name", motion)
            _sub(attribute, "mutable", "True")
            _sub(attribute, "input_type", "checkbox")
            _sub(attribute, "default_value", "false")
            _sub(attribute, "values", "false")
    size = _sub(task, "original_size")
    _sub(size, "width", str(info.width))
    _sub(size, "height", str(info.height))


def _box_attributes(
    box: ET.Element,
    record: ObjectRecord | None,
    motion_labels: list[str],
    covered: dict[tuple[int, str], np.ndarray],
    track_id: int,
    frame: int,
) -> None:
    _sub(box, "attribute", record.type if record else "", name="type")
    _sub(box, "attribute", (record.colour_name or "") if record else "", name="colour")
    for motion in motion_labels:
        on = covered.get((track_id, motion))
        _sub(box, "attribute", "true" if on is not None and on[frame] else "false", name=motion)


def video_xml(video: Video) -> bytes:
    """The CVAT for video 1.1 document of one video."""
    info = video.info
    intervals = video.motion().intervals
    motion_labels = sorted({i.label for i in intervals})
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    _meta(root, video, motion_labels)
    covered: dict[tuple[int, str], np.ndarray] = {}
    for interval in intervals:
        key = (interval.track_id, interval.label)
        frames = covered.setdefault(key, np.zeros(info.num_frames + 1, dtype=bool))
        frames[interval.start : interval.end + 1] = True
    objects = {o.track_id: o for o in video.objects()}
    boxes = video.boxes()
    frame, track, xyxy = boxes.frame, boxes.track_id, boxes.xyxy
    occlusion = boxes.visibility < 0.5
    for number, track_id in enumerate(np.unique(track)):
        record = objects.get(int(track_id))
        element = _sub(
            root,
            "track",
            id=str(number),
            label=record.category if record else "vehicle",
            source="auto",
        )
        rows = np.flatnonzero(track == track_id)
        for row in rows:
            f = int(frame[row])
            box = _sub(
                element,
                "box",
                frame=str(f),
                outside="0",
                occluded="1" if occlusion[row] else "0",
                keyframe="1",
                xtl=f"{xyxy[row, 0]:.2f}",
                ytl=f"{xyxy[row, 1]:.2f}",
                xbr=f"{xyxy[row, 2]:.2f}",
                ybr=f"{xyxy[row, 3]:.2f}",
                z_order="0",
            )
            _box_attributes(box, record, motion_labels, covered, int(track_id), f)
        last = int(frame[rows[-1]])
        if last + 1 < info.num_frames:
            closing = _sub(
                element,
                "box",
                frame=str(last + 1),
                outside="1",
                occluded="0",
                keyframe="1",
                xtl=f"{xyxy[rows[-1], 0]:.2f}",
                ytl=f"{xyxy[rows[-1], 1]:.2f}",
                xbr=f"{xyxy[rows[-1], 2]:.2f}",
                ybr=f"{xyxy[rows[-1], 3]:.2f}",
                z_order="0",
            )
            _box_attributes(closing, record, motion_labels, covered, int(track_id), last + 1)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n").encode()


def export_cvat(dataset: Dataset, out: Path, *, force: bool = False) -> ExportSummary:
    """Write `<out>/<vid>.xml` for every video."""
    started = time.perf_counter()
    folder = ExportFolder(out, "cvat", force=force)
    summary = ExportSummary(out=out, export_format="cvat")
    # Every file first: a refused export writes nothing.
    files = {f"{video_id}.xml": video_xml(dataset.video(video_id)) for video_id in dataset.videos}
    folder.begin(files)
    for relative, data in files.items():
        summary.add(*((1, 0) if folder.write(relative, data) else (0, 1)))
    folder.finish(summary)
    summary.seconds = time.perf_counter() - started
    return summary
