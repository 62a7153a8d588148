"""`uecity merge`: join the outputs of `uecity generate --shard i/n` into one dataset.

Every shard records the same resolved spec and seed; the merged manifest is rebuilt from them
with all videos, so the result is byte-identical to a single-machine run. Video folders are
copied (or moved with `move=True`), each through a temporary name and one rename.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from uecity.core.atomic import remove_temporaries, replace_folder
from uecity.core.errors import DatasetError, UsageError
from uecity.dataset import Dataset
from uecity.generate.run import build_manifest, is_finished, video_ids
from uecity.run_journal import RunJournal, journal_path, refuse_if_held
from uecity.scene.spec import parse_spec


def merge_shards(shards: list[Path], out: Path, *, move: bool = False) -> Dataset:
    """Merge shard datasets into `out` (which must not exist or be empty, or hold a merge of
    the same shards that was interrupted: the same command finishes it)."""
    if not shards:
        raise UsageError("give at least one shard folder to merge")
    interrupted = out.is_dir() and journal_path(out).is_file()
    if interrupted:
        refuse_if_held(out)
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not empty; choose a new folder for the merge")
    opened = [Dataset.open(path) for path in shards]
    first = opened[0].manifest
    if first.spec is None or first.seed is None:
        raise DatasetError("not a generated dataset (no spec/seed)", path=shards[0])
    owner: dict[str, Path] = {}
    for path, dataset in zip(shards, opened, strict=True):
        m = dataset.manifest
        if m.spec != first.spec or m.seed != first.seed:
            raise DatasetError(
                f"was generated from another spec or seed than {shards[0]}", path=path
            )
        for vid in m.videos:
            if vid in owner:
                raise DatasetError(f"video {vid} is also in {owner[vid]}", path=path)
            # (a video an interrupted merge already moved into `out` is finished there)
            moved = interrupted and (is_finished(out, vid) or _merging(out, vid).is_dir())
            if not is_finished(path, vid) and not moved:
                raise DatasetError(
                    f"video {vid} is unfinished; rerun that shard with --resume", path=path
                )
            owner[vid] = path
    spec = parse_spec(first.spec)
    expected = video_ids(spec)
    missing = [v for v in expected if v not in owner]
    if missing:
        raise UsageError(f"the shards lack videos {missing[:5]}{'...' if len(missing) > 5 else ''}")
    manifest = build_manifest(spec, expected)
    command = ["uecity", "merge", *(str(p.resolve()) for p in shards), "--out", str(out.resolve())]
    with RunJournal(out, "merge", [*command, *(["--move"] if move else [])]):
        remove_temporaries(out)  # of an interrupted merge
        dataset = Dataset(out, manifest)
        dataset.write_manifest(manifest)
        for vid in expected:
            target = out / "videos" / vid
            if interrupted and is_finished(out, vid):
                continue  # merged before the interruption
            source = owner[vid] / "videos" / vid
            temporary = _merging(out, vid)
            if move and not source.exists() and (temporary / "video.json").is_file():
                replace_folder(temporary, target)  # moved whole before the interruption
                continue
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.parent.mkdir(parents=True, exist_ok=True)
            if move:
                shutil.move(source, temporary)
            else:
                shutil.copytree(source, temporary)
            replace_folder(temporary, target)
    return dataset


def _merging(out: Path, video_id: str) -> Path:
    """Where a video is copied (or moved) before its one rename into `out/videos/`."""
    return out / "videos" / f".{video_id}.merging"
