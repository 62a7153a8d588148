"""The compose recipe over a dataset: read → evaluate atoms → sample → phrase → write.

Every video is composed in memory first; only when the whole run succeeded are expressions
written (through `Video.write_expression`, atomically), the expressions of an earlier compose
run that are no longer produced removed, and the train/test split written to the manifest.
What a run produced is recorded in `<root>/expressions/compose.json` (ids per video, seed,
configuration, vocabulary digest), so a re-run knows which files it owns: expressions written
by hand or by another tool are never removed or overwritten.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from uecity.core.atomic import atomic_write_json, remove_temporaries
from uecity.core.errors import DatasetError, SpecError, UsageError
from uecity.core.record_io import read_record
from uecity.dataset import MANIFEST_NAME, Dataset
from uecity.language.atoms import AtomTable, VideoFacts, referents_by_frame
from uecity.language.composition import (
    Composed,
    CompositionConfig,
    Description,
    compose_video,
    enumerate_descriptions,
)
from uecity.language.sentences import sentence, unique_slug
from uecity.language.vocabulary import Vocabulary
from uecity.records import Expression

logger = logging.getLogger(__name__)

STATE_NAME = "compose.json"


class SplitConfig(BaseModel):
    """Train/test split by video: named test videos, or a seeded share of the videos.

    `shared_pool`: the test videos' expressions are drawn from those composed for the training
    videos (the same descriptions, phrased as in training where a phrasing fits), as in
    Refer-KITTI, whose test sentences occur in training. Without it each video draws from the
    whole language, and most test sentences are new to a model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    test_videos: list[str] | None = Field(default=None, description="Explicit test videos.")
    test_fraction: float = Field(default=0.2, ge=0, lt=1, description="Else this share.")
    shared_pool: bool = Field(
        default=False, description="Test expressions drawn from the training videos' ones."
    )


class ComposeState(BaseModel):
    """`expressions/compose.json`: what the last compose run wrote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    vocabulary_digest: str
    config: CompositionConfig
    expressions: dict[str, list[str]] = Field(description="Video → expression ids written.")


@dataclass
class ComposeReport:
    """What a compose run produced."""

    expressions: dict[str, list[Expression]] = field(default_factory=dict)
    removed: int = 0
    splits: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.expressions.values())

    def test_overlap(self) -> SentenceOverlap:
        """How many test expressions have a sentence that occurs in a training video."""
        return sentence_overlap(self.expressions, self.splits)


@dataclass(frozen=True)
class SentenceOverlap:
    """Test expressions whose exact sentence occurs among the training videos' sentences."""

    test_expressions: int
    seen_in_train: int
    distinct_test_sentences: int
    distinct_seen: int

    def describe(self) -> str:
        share = 100 * self.seen_in_train / self.test_expressions if self.test_expressions else 0
        return (
            f"{self.seen_in_train} of {self.test_expressions} test expressions ({share:.0f} %) "
            f"have a sentence that occurs in training ({self.distinct_seen} of "
            f"{self.distinct_test_sentences} distinct test sentences)"
        )


def sentence_overlap(
    expressions: dict[str, list[Expression]], splits: dict[str, list[str]]
) -> SentenceOverlap:
    """The `SentenceOverlap` of `expressions` (video → expressions) under `splits`."""
    train = {e.sentence for v in splits.get("train", []) for e in expressions.get(v, [])}
    test = [e.sentence for v in splits.get("test", []) for e in expressions.get(v, [])]
    return SentenceOverlap(
        len(test), sum(s in train for s in test), len(set(test)), len(set(test) & train)
    )


def _description_key(description: Description) -> frozenset[str]:
    return frozenset(description.atom_ids)


def _expression_key(item: Composed) -> tuple[frozenset[str], ...]:
    return tuple(sorted((_description_key(p) for p in item.parts), key=sorted))


REPHRASE_ATTEMPTS = 200  # tries to phrase a shared test expression as one training sentence


def _state_path(dataset: Dataset) -> Path:
    return dataset.root / "expressions" / STATE_NAME


def _read_state(dataset: Dataset) -> ComposeState | None:
    path = _state_path(dataset)
    return read_record(path, ComposeState) if path.is_file() else None


def choose_split(
    videos: list[str], split: SplitConfig, rng: np.random.Generator
) -> dict[str, list[str]]:
    """The train and test videos (manifest order kept within each)."""
    if split.test_videos is not None:
        unknown = sorted(set(split.test_videos) - set(videos))
        if unknown:
            raise UsageError(
                f"--test-videos: {', '.join(unknown)} not in the dataset (it has: "
                f"{', '.join(videos) or 'no videos'})"
            )
        test = set(split.test_videos)
    else:
        count = math.ceil(len(videos) * split.test_fraction) if split.test_fraction > 0 else 0
        count = min(count, max(len(videos) - 1, 0))
        chosen = rng.choice(len(videos), count, replace=False) if count else []
        test = {videos[i] for i in chosen}
    return {
        "train": [v for v in videos if v not in test],
        "test": [v for v in videos if v in test],
    }


def _check_motion(dataset: Dataset, vocabulary: Vocabulary, facts: list[VideoFacts]) -> None:
    if not any(atom.test.motion is not None for atom in vocabulary.atoms):
        return
    missing = [f.video_id for f in facts if not f.intervals]
    if missing:
        raise DatasetError(
            f"videos without motion data: {', '.join(missing)}. Compose needs each video's "
            "motion intervals (videos/<vid>/motion.json, written by `uecity generate` or the "
            "annotator); annotate them or drop the videos with --video",
            path=dataset.root,
        )


def compose_dataset(
    dataset: Dataset,
    vocabulary: Vocabulary,
    config: CompositionConfig,
    *,
    seed: int,
    split: SplitConfig | None = None,
    videos: list[str] | None = None,
    write: bool = True,
    workers: int | None = None,
) -> ComposeReport:
    """Compose expressions for `videos` (default: all) of `dataset` and write them."""
    selected = list(videos) if videos else dataset.videos
    if not selected:
        raise DatasetError(
            "the dataset has no videos to compose expressions for (`uecity generate` makes some)",
            path=Dataset.manifest_path(dataset.root),
            field="videos",
        )
    seeds = np.random.SeedSequence(seed).spawn(len(dataset.videos) + 1)
    # The request is checked before the work: a wrong --test-videos is named as such.
    split = split or SplitConfig()
    splits = choose_split(dataset.videos, split, np.random.default_rng(seeds[-1]))
    for video_id in selected:
        dataset.video(video_id)  # unknown names raise a DatasetError listing the known ones
    facts = [VideoFacts.from_video(dataset.video(v)) for v in selected]
    _check_motion(dataset, vocabulary, facts)

    descriptions = enumerate_descriptions(vocabulary, config.max_modifiers)
    seed_of = dict(zip(dataset.videos, seeds, strict=False))
    previous = _read_state(dataset)
    owned = previous.expressions if previous is not None else {}
    test_videos = set(splits["test"])
    if split.shared_pool:  # the training videos first: the test videos draw from them
        facts = sorted(facts, key=lambda f: f.video_id in test_videos)
    train_phrasings: dict[tuple[frozenset[str], ...], set[str]] = {}

    report = ComposeReport()
    for video_facts in facts:
        video = dataset.video(video_facts.video_id)
        rng = np.random.default_rng(seed_of[video.video_id])
        table = AtomTable(vocabulary, video_facts)
        shared = split.shared_pool and video.video_id in test_videos
        pool = descriptions
        if shared:
            parts = {part for key in train_phrasings for part in key}
            pool = {
                size: [d for d in items if _description_key(d) in parts]
                for size, items in descriptions.items()
            }
        composed = compose_video(table, pool, config, rng)
        if shared:
            composed = [c for c in composed if _expression_key(c) in train_phrasings]
        # Hand-written expressions keep their ids; ours take the others.
        taken = set(video.expression_ids()) - set(owned.get(video.video_id, []))
        expressions = []
        for item in composed:
            text = sentence(vocabulary, item, rng)
            if shared:  # phrase it as in training where the phrasing fits (number, synonyms)
                known = train_phrasings[_expression_key(item)]
                for _ in range(REPHRASE_ATTEMPTS):
                    if text in known:
                        break
                    text = sentence(vocabulary, item, rng)
            elif split.shared_pool:
                train_phrasings.setdefault(_expression_key(item), set()).add(text)
            expressions.append(
                Expression(
                    label=referents_by_frame(video_facts, item.mask),
                    video_name=video.video_id,
                    sentence=text,
                    expression_id=unique_slug(text, taken),
                    atoms=item.atom_ids,
                    logic=item.logic(),
                )
            )
        report.expressions[video.video_id] = expressions
    if report.total == 0:
        raise SpecError(
            f"the thresholds leave no expression (min_objects={config.min_objects}, "
            f"min_frames={config.min_frames}, max_objects={config.max_objects}) in "
            f"{len(selected)} videos; lower --min-objects / --min-frames. Nothing was written",
            path=dataset.root,
        )
    report.expressions = {
        v: report.expressions[v] for v in dataset.videos if v in report.expressions
    }
    report.splits = splits
    if write:
        _write(dataset, report, owned, vocabulary, config, seed, workers)
    return report


def _write_video(root: Path, video_id: str, expressions: list[Expression], owned: list[str]) -> int:
    """Write one video's expressions and remove its stale ones; returns how many were removed."""
    video = Dataset.open(root).video(video_id)
    new_ids = {e.expression_id for e in expressions}
    removed = 0
    for stale in sorted(set(owned) - new_ids):
        path = video.expressions_folder / f"{stale}.json"
        if path.is_file():
            path.unlink()
            removed += 1
    for expression in expressions:
        video.write_expression(expression)
    return removed


def _write(
    dataset: Dataset,
    report: ComposeReport,
    owned: dict[str, list[str]],
    vocabulary: Vocabulary,
    config: CompositionConfig,
    seed: int,
    workers: int | None,
) -> None:
    written = {video: list(ids) for video, ids in owned.items()}
    # Temporaries a killed compose left: of its expressions and of the manifest it rewrites.
    expressions_root = dataset.root / "expressions"
    leftovers = remove_temporaries(expressions_root) if expressions_root.is_dir() else []
    for path in Dataset.manifest_path(dataset.root).parent.glob(f".{MANIFEST_NAME}.uecity-tmp-*"):
        path.unlink()
        leftovers.append(path)
    for path in leftovers:
        logger.info("removed leftover %s", path)
    # Journal first: the state lists the old and the new files as ours before any is written,
    # so a re-run after a kill in the middle still knows which files it may replace or remove.
    _write_state(
        dataset,
        vocabulary,
        config,
        seed,
        {
            **written,
            **{
                video_id: sorted({*owned.get(video_id, []), *(e.expression_id for e in exprs)})
                for video_id, exprs in report.expressions.items()
            },
        },
    )
    jobs = [
        (dataset.root, video_id, expressions, sorted(owned.get(video_id, [])))
        for video_id, expressions in report.expressions.items()
    ]
    # Encoding indented JSON and fsyncing each file dominate a run: spread videos over processes.
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            removed = list(pool.map(_write_video, *zip(*jobs, strict=True)))
    else:
        removed = [_write_video(*job) for job in jobs]
    report.removed = sum(removed)
    for video_id, expressions in report.expressions.items():
        written[video_id] = sorted(e.expression_id for e in expressions)
    _write_state(dataset, vocabulary, config, seed, written)
    splits = {**dataset.manifest.splits, **report.splits}
    dataset.write_manifest(dataset.manifest.model_copy(update={"splits": splits}))
    logger.info(
        "wrote %d expressions in %d videos, removed %d stale",
        report.total,
        len(report.expressions),
        report.removed,
    )


def _write_state(
    dataset: Dataset,
    vocabulary: Vocabulary,
    config: CompositionConfig,
    seed: int,
    expressions: dict[str, list[str]],
) -> None:
    atomic_write_json(
        _state_path(dataset),
        ComposeState(
            seed=seed,
            vocabulary_digest=vocabulary.digest(),
            config=config,
            expressions=dict(sorted(expressions.items())),
        ).model_dump(mode="json"),
    )
