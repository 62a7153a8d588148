"""`uecity merge`: join the outputs of `uecity generate --shard i/n` into one dataset.

Every shard records the same resolved spec and seed; the merged manifest is rebuilt from them
with all videos, so the result is byte-identical to a single-machine run. Video folders are
copied (or moved with `move=True`), each through a temporary name and one rename.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from uecity.dataset import Dataset
from uecity.errors import DatasetError, UsageError
from uecity.generate.run import build_manifest, is_finished, video_ids
from uecity.scene.spec import parse_spec


def merge_shards(shards: list[Path], out: Path, *, move: bool = False) -> Dataset:
    """Merge shard datasets into `out` (which must not exist or be empty)."""
    if not shards:
        raise UsageError("give at least one shard folder to merge")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
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
            if not is_finished(path, vid):
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
    dataset = Dataset.create(out, manifest)
    for vid in expected:
        source = owner[vid] / "videos" / vid
        target = out / "videos" / vid
        temporary = out / "videos" / f".{vid}.merging"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.parent.mkdir(parents=True, exist_ok=True)
        if move:
            shutil.move(source, temporary)
        else:
            shutil.copytree(source, temporary)
        os.replace(temporary, target)
    return dataset
