"""Atomic writes of files and whole folders: a temporary beside the target, then a rename.

The one home of the product's atomic writes. A reader (or a run resumed after `kill -9`) sees
either the old file or the new one, never a half-written one; a folder (a generated video, a
model checkpoint) appears whole or not at all. Temporaries carry a recognisable name
(`TEMPORARY_MARKER`) so that a resumed run can sweep away the leftovers of an interrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from uecity.core.errors import UsageError

TEMPORARY_MARKER = ".uecity-tmp-"


def _temporary_name(target: Path, suffix: str = "") -> Path:
    """A fresh name beside `target` that `remove_temporaries` recognises."""
    return target.with_name(f".{target.name}{TEMPORARY_MARKER}{uuid.uuid4().hex[:12]}{suffix}")


def _fsync_folder(folder: Path) -> None:
    # The rename itself is only durable once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is renamed onto `target`.

    For writers that want a path rather than bytes (pyarrow, OpenCV). If the block raises, the
    temporary is removed and `target` is untouched. `durable` fsyncs the file and its folder, so
    the change survives a power loss, not only a crash of this process.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target, target.suffix)
    # Created with mode 0666 as a plain open() would: the kernel takes the umask off, so the
    # file gets the permissions any new file of this user gets (mkstemp's would be 0600), and
    # the umask is never read or changed (that would race with other threads).
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        if durable:
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    if durable:
        _fsync_folder(target.parent)


def replace_folder(source: str | Path, target: str | Path, *, durable: bool = True) -> None:
    """Move the finished folder `source` onto `target` by renames (same file system).

    An existing `target` is first renamed aside (a temporary name, so a sweep removes it if
    this is interrupted) and removed afterwards: `target` is the old folder or the new one,
    never a mix of both."""
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = _temporary_name(target, ".old")
        os.replace(target, old)
    os.replace(source, target)
    if durable:
        _fsync_folder(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(target: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it replaces `target` whole
    (`replace_folder`). If the block raises, the temporary is removed and `target` is untouched.
    The folder gets the permissions a new folder of this user would get."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target)
    temporary.mkdir(mode=0o777)  # less the umask, as any new folder (mkdtemp's would be 0700)
    try:
        yield temporary
        replace_folder(temporary, target, durable=durable)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def atomic_write_bytes(target: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target, durable=durable) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(target: str | Path, text: str, *, durable: bool = True) -> None:
    """Write UTF-8 `text` to `target` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"), durable=durable)


def dumps_json(value: Any) -> str:
    """The one JSON text form of the product: 2-space indent, UTF-8, final newline.

    Key order is the order of the record's fields (pydantic dumps in declaration order), so the
    same record always gives the same bytes.
    """
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_json(target: str | Path, value: Any, *, durable: bool = True) -> None:
    """Write `value` as JSON (see `dumps_json`) to `target` atomically."""
    atomic_write_text(target, dumps_json(value), durable=durable)


def is_temporary(path: str | Path) -> bool:
    """Whether `path` is a leftover temporary of an interrupted atomic write."""
    return TEMPORARY_MARKER in Path(path).name


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete leftover temporaries (files and folders) under `folder`, recursively; return
    what was removed."""
    removed: list[Path] = []
    for path in sorted(Path(folder).rglob(f"*{TEMPORARY_MARKER}*")):
        if any(parent in removed for parent in path.parents):
            continue  # inside a temporary folder already removed
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def check_creatable(target: str | Path, option: str, *, folder: bool = True) -> None:
    """Refuse, before any work, an output (a folder, or a file with `folder=False`) that cannot
    be made or written: a file in the way, or no write permission. Nothing is created here."""
    target = Path(target)
    existing = target if folder else target.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if folder and existing == target and not target.is_dir():
        raise UsageError(f"{option} {target}: exists and is not a folder")
    if not existing.is_dir():
        raise UsageError(f"{option} {target}: cannot be made, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {target}: no permission to write into {existing}")
