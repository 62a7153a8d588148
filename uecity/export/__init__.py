"""Exports of a native dataset: the Refer-KITTI layout, MOTChallenge ground truth, CVAT XML.

Each format is one module; `output` holds what they share: refusing a foreign non-empty folder,
skipping files that are already up to date, and removing files a previous export wrote that
are no longer produced.
"""

from __future__ import annotations

from pathlib import Path

from uecity.dataset import Dataset
from uecity.export.output import ExportSummary

FORMATS: tuple[str, ...] = ("refer-kitti", "mot", "cvat")
VIDEO_NAMINGS: tuple[str, ...] = (
    "native",
    "refer-kitti",
)  # video folder names of a Refer-KITTI export


def export_dataset(
    dataset: Dataset,
    out: str | Path,
    export_format: str,
    *,
    workers: int | None = None,
    force: bool = False,
    video_names: str = "native",
) -> ExportSummary:
    """Export `dataset` into `out` in one of `FORMATS` (`video_names`: Refer-KITTI only)."""
    if export_format == "refer-kitti":
        from uecity.export.refer_kitti import export_refer_kitti

        return export_refer_kitti(
            dataset, Path(out), workers=workers, force=force, video_names=video_names
        )
    if video_names != "native":
        from uecity.core.errors import UsageError

        raise UsageError(f"--video-names applies to --format refer-kitti, not {export_format}")
    if export_format == "mot":
        from uecity.export.mot import export_mot

        return export_mot(dataset, Path(out), force=force)
    if export_format == "cvat":
        from uecity.export.cvat import export_cvat

        return export_cvat(dataset, Path(out), force=force)
    from uecity.core.errors import UsageError

    raise UsageError(f"unknown export format '{export_format}' (known: {', '.join(FORMATS)})")
