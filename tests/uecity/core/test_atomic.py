"""Atomic writes of files and whole folders: the target is the old content or the new, never a
mix; a failed write leaves nothing behind; leftovers of a killed write are swept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from uecity.core.atomic import (
    TEMPORARY_MARKER,
    atomic_folder,
    atomic_path,
    atomic_write_text,
    is_temporary,
    remove_temporaries,
    replace_folder,
)


def test_atomic_folder_replaces_the_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "out" / "model"
    with atomic_folder(target) as folder:
        (folder / "a.txt").write_text("old")
        (folder / "stale.txt").write_text("gone next time")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "stale.txt"]
    with atomic_folder(target) as folder:
        assert is_temporary(folder) and not target.samefile(folder)
        (folder / "a.txt").write_text("new")
        assert (target / "a.txt").read_text() == "old"  # untouched until the block ends
    assert [p.name for p in target.iterdir()] == ["a.txt"] and (
        target / "a.txt"
    ).read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["model"]  # nothing left beside it


def test_a_failed_folder_write_leaves_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "a.txt").write_text("half")
        raise RuntimeError("killed halfway")
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_new_folder_gets_the_users_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        with atomic_folder(tmp_path / "model") as folder:
            pass
        assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o750
        assert not folder.exists()
    finally:
        os.umask(mask)


def test_replace_folder_moves_a_staged_folder_over_an_old_one(tmp_path: Path) -> None:
    staged, target = tmp_path / ".staging" / "v", tmp_path / "videos" / "v"
    staged.mkdir(parents=True)
    (staged / "video.json").write_text("new")
    target.mkdir(parents=True)
    (target / "old.json").write_text("old")
    replace_folder(staged, target)
    assert [p.name for p in target.iterdir()] == ["video.json"] and not staged.exists()
    assert [p.name for p in target.parent.iterdir()] == ["v"]


def test_leftover_files_and_folders_are_swept(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "kept.json", "{}")
    (tmp_path / f".model{TEMPORARY_MARKER}abc").mkdir()
    (tmp_path / f".model{TEMPORARY_MARKER}abc" / f".x{TEMPORARY_MARKER}1").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f".a.json{TEMPORARY_MARKER}2.json").write_text("")
    removed = remove_temporaries(tmp_path)
    assert [p.name for p in removed] == [
        f".model{TEMPORARY_MARKER}abc",
        f".a.json{TEMPORARY_MARKER}2.json",
    ]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept.json", "sub"]


def test_atomic_path_keeps_the_suffix_for_writers_that_choose_by_it(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "referred.mp4") as temporary:
        assert temporary.suffix == ".mp4" and temporary.parent == tmp_path
        temporary.write_bytes(b"x")
    assert (tmp_path / "referred.mp4").read_bytes() == b"x"
