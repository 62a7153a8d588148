"""HOTA evaluation of tracking results through TrackEval, with the paper's and the field's
averages and per-video / per-atom breakdowns."""

from mlstrack.evaluation.report import EvaluationReport, evaluate_results, write_report
from mlstrack.evaluation.trackeval_run import METRIC_FIELDS, gt_lines, run_trackeval

__all__ = [
    "METRIC_FIELDS",
    "EvaluationReport",
    "evaluate_results",
    "gt_lines",
    "run_trackeval",
    "write_report",
]
