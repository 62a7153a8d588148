"""Evaluate vocabulary atoms to boolean tables over a video's box rows.

A video's boxes are the N rows of its `VideoBoxes`. Every atom becomes a boolean mask of
length N: true where the atom holds for that track at that frame. Object atoms hold for all of
a track's rows, motion atoms on the frames of matching intervals (inclusive at both ends), box
atoms where the box lies in the atom's image region. An expression's logic tree is then
evaluated with `&` and `|` over these masks, so AND and OR act per frame. Everything is numpy
over the rows; nothing loops per frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from uecity.boxes import VideoBoxes
from uecity.dataset import Video
from uecity.language.vocabulary import Atom, Vocabulary, normalise_label
from uecity.records import LogicNode, MotionInterval, ObjectRecord

logger = logging.getLogger(__name__)

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VideoFacts:
    """What atoms are evaluated from: a video's box rows, objects and motion intervals."""

    video_id: str
    num_frames: int
    width: int
    height: int
    boxes: VideoBoxes  # N rows, sorted by (frame, track_id)
    objects: dict[int, ObjectRecord]
    intervals: list[MotionInterval] = field(default_factory=list)

    @classmethod
    def from_video(cls, video: Video) -> VideoFacts:
        info = video.info
        return cls(
            video_id=video.video_id,
            num_frames=info.num_frames,
            width=info.width,
            height=info.height,
            boxes=video.boxes(),
            objects={o.track_id: o for o in video.objects()},
            intervals=list(video.motion().intervals),
        )

    @property
    def num_rows(self) -> int:
        return len(self.boxes)


class AtomTable:
    """The masks of every atom of a vocabulary over one video's rows (computed lazily)."""

    def __init__(self, vocabulary: Vocabulary, facts: VideoFacts):
        self.vocabulary = vocabulary
        self.facts = facts
        self._atoms = vocabulary.by_id()
        self._masks: dict[str, Mask] = {}
        # Dense track index of each row, so per-track facts become per-row by one gather.
        self.tracks, self.row_track = np.unique(facts.boxes.track_id, return_inverse=True)
        self._motion: dict[str, list[MotionInterval]] = {}
        for interval in facts.intervals:
            key = normalise_label(interval.label, vocabulary.label_matching)
            self._motion.setdefault(key, []).append(interval)

    def mask(self, atom_id: str) -> Mask:
        if atom_id not in self._masks:
            self._masks[atom_id] = self._evaluate(self._atoms[atom_id])
        return self._masks[atom_id]

    def evaluate(self, node: LogicNode) -> Mask:
        """The per-row truth of a logic tree: AND / OR applied frame by frame."""
        if node.op == "atom":
            return self.mask(node.atom)  # type: ignore[arg-type]
        masks = [self.evaluate(arg) for arg in node.args]
        combine = np.logical_and if node.op == "and" else np.logical_or
        return combine.reduce(masks) if len(masks) > 1 else masks[0]

    # --- the three kinds of test
    def _evaluate(self, atom: Atom) -> Mask:
        test = atom.test
        if test.object is not None:
            return self._object_mask(test.object)
        if test.motion is not None:
            return self._motion_mask(test.motion)
        assert test.box is not None
        return self._box_mask(test.box.centre_x, test.box.bottom_y)

    def _object_mask(self, wanted: dict[str, list[str]]) -> Mask:
        per_track = np.ones(len(self.tracks), dtype=bool)
        for name, values in wanted.items():
            accepted = {v.lower() for v in values}
            facts = [
                getattr(self.facts.objects.get(int(t)), name, None)
                if int(t) in self.facts.objects
                else None
                for t in self.tracks
            ]
            per_track &= np.array(
                [f is not None and str(f).lower() in accepted for f in facts], dtype=bool
            )
        return per_track[self.row_track]

    def _motion_mask(self, labels: list[str]) -> Mask:
        matching = self.vocabulary.label_matching
        intervals = [
            interval
            for label in dict.fromkeys(normalise_label(x, matching) for x in labels)
            for interval in self._motion.get(label, [])
        ]
        if not intervals or self.facts.num_rows == 0:
            return np.zeros(self.facts.num_rows, dtype=bool)
        track_of = {int(t): i for i, t in enumerate(self.tracks)}
        rows = [(track_of[i.track_id], i.start, i.end) for i in intervals if i.track_id in track_of]
        if not rows:
            return np.zeros(self.facts.num_rows, dtype=bool)
        track, start, end = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
        frames = max(
            self.facts.num_frames, int(self.facts.boxes.frame.max()) + 1, int(end.max()) + 1
        )
        # A difference array per track: +1 at start, -1 after end; the running sum is > 0
        # exactly on the frames some interval covers (inclusive ends, overlaps counted once).
        delta = np.zeros((len(self.tracks), frames + 1), dtype=np.int32)
        np.add.at(delta, (track, start), 1)
        np.add.at(delta, (track, end + 1), -1)
        covered = np.cumsum(delta, axis=1) > 0  # (T, F+1)
        return covered[self.row_track, self.facts.boxes.frame]

    def _box_mask(self, centre_x: tuple[float, float], bottom_y: tuple[float, float]) -> Mask:
        xyxy = self.facts.boxes.xyxy
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 / self.facts.width
        by = xyxy[:, 3] / self.facts.height
        return (cx >= centre_x[0]) & (cx < centre_x[1]) & (by >= bottom_y[0]) & (by < bottom_y[1])


def referents_by_frame(facts: VideoFacts, mask: Mask) -> dict[str, list[int]]:
    """The Refer-KITTI `label` mapping of a mask: frame (unpadded string) → referred track ids.

    Only frames with at least one referent are listed; ids ascend within a frame.
    """
    # Rows are sorted by (frame, track_id) (the box table's order), so grouping keeps order.
    label: dict[str, list[int]] = {}
    for frame, track in facts.boxes[mask].frame_track_pairs():
        label.setdefault(str(frame), []).append(track)
    return label
