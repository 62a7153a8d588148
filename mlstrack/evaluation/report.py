"""The evaluation report: TrackEval's combined score, the per-expression mean (the paper's
protocol), per-video and per-atom breakdowns, as JSON and Markdown.

- combined: TrackEval's `COMBINED_SEQ` over every (video, expression) sequence: detections
  summed, association weighted by true positives (how the field reports Refer-KITTI).
- per_expression_mean: the mean of each sequence's score (the MLS-Track paper's average).
- per_video, per_atom: TrackEval's combination over the sequences of one video, or of the
  expressions that use one atom ("turning" vs "black"), each with its sequence count.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlstrack.data.refer_kitti import ReferKittiIndex
from mlstrack.evaluation.atoms import sentence_atoms
from mlstrack.evaluation.trackeval_run import (
    COMBINED,
    METRIC_FIELDS,
    combine,
    gt_lines,
    run_trackeval,
    summarise,
)
from uecity.core.atomic import atomic_write_json, atomic_write_text
from uecity.core.errors import DatasetError
from uecity.formats.mot_challenge import parse_lines, sequence_name
from uecity.formats.refer_kitti import PREDICTION_FILE, SEQMAP, prediction_file

logger = logging.getLogger(__name__)

REPORT_JSON = "evaluation.json"
REPORT_MARKDOWN = "evaluation.md"


@dataclass
class EvaluationReport:
    """Scores in percent, each a dict over `METRIC_FIELDS`."""

    combined: dict[str, float]
    per_expression_mean: dict[str, float]
    per_sequence: dict[str, dict[str, float]]
    per_video: dict[str, dict[str, float]]
    per_atom: dict[str, dict[str, float]]
    atom_counts: dict[str, int]
    atom_source: str
    sentences: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "protocol": {
                "combined": "TrackEval COMBINED_SEQ over all (video, expression) sequences",
                "per_expression_mean": "mean of the per-sequence scores (MLS-Track paper)",
                "frames": "MOTChallenge 1-based: image %06d.png of frame f is line frame f+1",
                "atoms": self.atom_source,
            },
            "sequences": len(self.per_sequence),
            "combined": self.combined,
            "per_expression_mean": self.per_expression_mean,
            "per_video": self.per_video,
            "per_atom": {
                a: {**s, "sequences": self.atom_counts[a]} for a, s in self.per_atom.items()
            },
            "per_sequence": {
                s: {**v, "sentence": self.sentences.get(s, "")}
                for s, v in self.per_sequence.items()
            },
        }

    def markdown(self) -> str:
        def row(label: str, scores: dict[str, float], extra: str = "") -> str:
            cells = " | ".join(f"{scores[name]:.2f}" for name in METRIC_FIELDS)
            return f"| {label}{extra} | {cells} |"

        head = "| | " + " | ".join(METRIC_FIELDS) + " |\n|---|" + "---|" * len(METRIC_FIELDS)
        lines = [
            "# Evaluation (TrackEval HOTA)",
            "",
            f"{len(self.per_sequence)} (video, expression) sequences.",
            "",
            head,
            row("combined (TrackEval COMBINED_SEQ)", self.combined),
            row("per-expression mean (paper)", self.per_expression_mean),
            "",
            "## Per video",
            "",
            head,
            *(row(v, s) for v, s in self.per_video.items()),
            "",
            f"## Per atom ({self.atom_source})",
            "",
            head,
            *(row(a, s, f" ({self.atom_counts[a]})") for a, s in self.per_atom.items()),
            "",
            "## Per expression",
            "",
            head,
            *(row(f"{s}: {self.sentences.get(s, '')}", v) for s, v in self.per_sequence.items()),
            "",
        ]
        return "\n".join(lines)


def _read_predictions(
    results_dir: Path, sequences: list[tuple[str, str]], index: ReferKittiIndex
) -> dict[str, str]:
    predictions, missing = {}, []
    for video_id, name in sequences:
        path = prediction_file(results_dir, video_id, name)
        if not path.is_file():
            missing.append(f"{video_id}/{name}/{PREDICTION_FILE}")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DatasetError(f"cannot read the predictions: {error}", path=path) from None
        # Refused by the user's own file and line before TrackEval names only its copy.
        parse_lines(text, path, num_frames=index.videos[video_id].num_frames)
        predictions[sequence_name(video_id, name)] = text
    if missing:
        raise DatasetError(
            f"{len(missing)} of {len(sequences)} predictions are missing (first: {missing[0]}); "
            "run `uecity track RUN --data EXPORT_DIR --out RESULTS` first",
            path=results_dir,
        )
    return predictions


def evaluate_results(
    results_dir: str | Path,
    index: ReferKittiIndex,
    *,
    sequences: list[tuple[str, str]] | None = None,
    atoms_by_expression: Mapping[tuple[str, str], Sequence[str]] | None = None,
    atom_source: str = "the given atoms",
) -> EvaluationReport:
    """Score `RESULTS/<video>/<expression>/predict.txt` against the tree's ground truth.

    Per-atom scores group expressions by `atoms_by_expression` ((native video, expression) →
    atom ids; an export with Refer-KITTI video names is mapped back through native_ids.json,
    e.g. a native dataset's expression atoms, described by `atom_source`); an expression it
    lacks, or every expression without it, is grouped by its sentence's content words."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DatasetError("results folder not found", path=results_dir)
    chosen = sequences if sequences is not None else index.test_sequences
    if not chosen:
        raise DatasetError(f"no test sequences to evaluate ({SEQMAP} is empty)", path=index.root)
    predictions = _read_predictions(results_dir, chosen, index)
    expressions = {sequence_name(v, n): index.expression(v, n) for v, n in chosen}
    gt = {s: gt_lines(index, e) for s, e in expressions.items()}
    lengths = {s: index.videos[e.video_id].num_frames for s, e in expressions.items()}
    results = run_trackeval(gt, predictions, lengths)
    names = list(expressions)
    per_sequence = {s: summarise(results[s]) for s in names}
    mean = {f: float(np.mean([per_sequence[s][f] for s in names])) for f in METRIC_FIELDS}
    by_video: dict[str, list[str]] = {}
    for s, e in expressions.items():
        by_video.setdefault(e.video_id, []).append(s)
    if atoms_by_expression is not None:
        source = atom_source
        atoms = {
            s: list(
                atoms_by_expression.get(
                    (index.native_videos.get(e.video_id, e.video_id), e.name),
                    sentence_atoms(e.sentence),
                )
            )
            for s, e in expressions.items()
        }
    else:
        source = "content words of the sentences"
        atoms = {s: sentence_atoms(e.sentence) for s, e in expressions.items()}
    by_atom: dict[str, list[str]] = {}
    for s in names:
        for atom in atoms[s]:
            by_atom.setdefault(atom, []).append(s)
    return EvaluationReport(
        combined=summarise(results[COMBINED]),
        per_expression_mean=mean,
        per_sequence=per_sequence,
        per_video={v: combine(results, seqs) for v, seqs in sorted(by_video.items())},
        per_atom={a: combine(results, seqs) for a, seqs in sorted(by_atom.items())},
        atom_counts={a: len(seqs) for a, seqs in sorted(by_atom.items())},
        atom_source=source,
        sentences={s: e.sentence for s, e in expressions.items()},
    )


def write_report(report: EvaluationReport, out: str | Path) -> tuple[Path, Path]:
    """`evaluation.json` and `evaluation.md` in `out`, each written atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / REPORT_JSON, report.to_dict())
    atomic_write_text(out / REPORT_MARKDOWN, report.markdown())
    return out / REPORT_JSON, out / REPORT_MARKDOWN
