"""The numbers of the paper's Table 1 row and the distributions behind its Fig. 3.

- frames: frames of all videos;
- prompts: expressions;
- annotated boxes: referred (track, frame) pairs summed over expressions;
- instances per prompt: mean number of distinct tracks an expression refers to;
- temporal ratio per expression: mean share of the video's frames with at least one referent.

Fig. 3 adds word frequencies of the sentences, the instances-per-expression histogram, the
temporal ratios and the duration (referred frames) of each referred instance.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from uecity.core.errors import DatasetError
from uecity.dataset import Dataset, check_referents

# Words too common to tell expressions apart; left out of the word frequencies.
STOP_WORDS = frozenset(
    "the a an which that who are is and or all of in on to from at by with".split()  # noqa: SIM905
)

PAPER_ROWS = {
    "Refer-KITTI": {
        "frames": 6650,
        "prompts": 818,
        "annotated_boxes": 350_000,
        "instances_per_prompt": 10.7,
        "temporal_ratio": 0.49,
    },
    "Refer-UE-City": {
        "frames": 6207,
        "prompts": 714,
        "annotated_boxes": 550_000,
        "instances_per_prompt": 10.3,
        "temporal_ratio": 0.78,
    },
}


@dataclass
class DatasetStats:
    """Table 1 numbers plus the raw distributions of Fig. 3."""

    videos: int
    frames: int
    prompts: int
    annotated_boxes: int
    instances_per_prompt: float
    temporal_ratio: float
    prompts_per_video: float
    max_instances: int
    instances: list[int] = field(default_factory=list)  # per expression
    temporal_ratios: list[float] = field(default_factory=list)  # per expression
    durations: list[int] = field(default_factory=list)  # referred frames per (expr, track)
    word_counts: dict[str, int] = field(default_factory=dict)

    def table_row(self) -> dict[str, float | int]:
        return {
            "frames": self.frames,
            "prompts": self.prompts,
            "annotated_boxes": self.annotated_boxes,
            "instances_per_prompt": round(self.instances_per_prompt, 2),
            "temporal_ratio": round(self.temporal_ratio, 2),
        }

    def to_json(self) -> dict:
        data = asdict(self)
        data["table1"] = self.table_row()
        data["paper_table1"] = PAPER_ROWS
        return data


def words(sentence: str) -> list[str]:
    return [
        w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", sentence.lower()) if w not in STOP_WORDS
    ]


def dataset_stats(dataset: Dataset, videos: list[str] | None = None) -> DatasetStats:
    """Compute the statistics over `videos` (default: all) of `dataset`."""
    selected = list(videos) if videos else dataset.videos
    frames = prompts = boxes = 0
    instances: list[int] = []
    ratios: list[float] = []
    durations: list[int] = []
    counter: Counter[str] = Counter()
    for video_id in selected:
        video = dataset.video(video_id)
        num_frames = video.info.num_frames
        frames += num_frames
        boxes_of_video = set(video.boxes().frame_track_pairs())
        for expression in video.expressions():
            # an unknown track or a frame outside the video would be counted as an instance
            path = video.expressions_folder / f"{expression.expression_id}.json"
            check_referents(expression, boxes_of_video, num_frames, path)
            prompts += 1
            per_track: Counter[int] = Counter()
            referred_frames = 0
            for ids in expression.label.values():
                if ids:
                    referred_frames += 1
                    per_track.update(ids)
            boxes += sum(per_track.values())
            instances.append(len(per_track))
            ratios.append(referred_frames / num_frames if num_frames else 0.0)
            durations += list(per_track.values())
            counter.update(words(expression.sentence))
    if prompts == 0:
        raise DatasetError(
            "the dataset has no expressions (run `uecity compose` first)", path=dataset.root
        )
    return DatasetStats(
        videos=len(selected),
        frames=frames,
        prompts=prompts,
        annotated_boxes=boxes,
        instances_per_prompt=float(np.mean(instances)),
        temporal_ratio=float(np.mean(ratios)),
        prompts_per_video=prompts / len(selected),
        max_instances=max(instances),
        instances=instances,
        temporal_ratios=ratios,
        durations=durations,
        word_counts=dict(counter.most_common()),
    )


def markdown(stats: DatasetStats, name: str) -> str:
    """Table 1 with our row beside the paper's, and a summary of the distributions."""

    def boxes_text(value: float) -> str:
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"

    lines = [
        f"# Statistics of {name}",
        "",
        "| dataset | frames | prompts | annotated boxes | instances per prompt | "
        "temporal ratio per expression |",
        "|---|---|---|---|---|---|",
    ]
    rows = {**PAPER_ROWS, f"{name} (this dataset)": stats.table_row()}
    for label, row in rows.items():
        lines.append(
            f"| {label} | {row['frames']:,} | {row['prompts']:,} | "
            f"{boxes_text(row['annotated_boxes'])} | {row['instances_per_prompt']} | "
            f"{row['temporal_ratio']} |"
        )
    top = ", ".join(f"{w} ({c})" for w, c in list(stats.word_counts.items())[:15])
    durations = np.array(stats.durations)
    lines += [
        "",
        f"- videos: {stats.videos}; prompts per video: {stats.prompts_per_video:.1f}",
        f"- instances per expression: mean {stats.instances_per_prompt:.1f}, median "
        f"{float(np.median(stats.instances)):.0f}, max {stats.max_instances}",
        f"- temporal ratio: mean {stats.temporal_ratio:.2f}, share of expressions covering "
        f"≥ 90% of the video {float(np.mean(np.array(stats.temporal_ratios) >= 0.9)):.2f}",
        f"- referred instance duration (frames): mean {durations.mean():.0f}, max "
        f"{durations.max()}",
        f"- most frequent words: {top}",
        "",
    ]
    return "\n".join(lines)
