"""The run journal: which command is writing into an output folder, and how to finish it.

A writing command creates `<out>/.uecity-run.json` before anything else and removes it after
its last write. The file says what the command was (so `uecity validate` can print the command
that finishes an interrupted run) and it is the run's lock: the command and each of its worker
processes hold a shared `flock` on it for as long as they live, so a second run (a `--resume`
started while an orphaned worker still writes) is refused with one clear line. A journal that
nobody holds is the sign of an interrupted run.

Locks are advisory and per host (`flock`); where `fcntl` is missing (Windows) the journal is
still written and read, without the lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from uecity.core.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

JOURNAL_NAME = ".uecity-run.json"
_joined: list[int] = []  # descriptors a worker process keeps open (its shared lock)


def journal_path(folder: str | Path) -> Path:
    return Path(folder) / JOURNAL_NAME


def _try_lock(fd: int, kind: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def read_journal(folder: str | Path) -> dict | None:
    """The journal's record, or None when there is none (or it was torn by a kill)."""
    try:
        data = json.loads(journal_path(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_held(folder: str | Path) -> bool:
    """Whether a live process (the command or one of its workers) holds the folder's journal."""
    try:
        fd = os.open(journal_path(folder), os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd, fcntl.LOCK_EX) if fcntl is not None else False
    finally:
        os.close(fd)  # closing releases a lock this test took


def finish_command(folder: str | Path) -> str | None:
    """The command line that finishes the interrupted run in `folder`, if its journal says."""
    record = read_journal(folder)
    command = record.get("resume_command") if record else None
    if isinstance(command, list) and all(isinstance(part, str) for part in command):
        return shlex.join(command)
    return None


def refuse_if_held(folder: str | Path) -> None:
    """Raise when a live process still writes into `folder` (checked before any write)."""
    if is_held(folder):
        record = read_journal(folder) or {}
        pid = record.get("pid")
        who = f"process {pid} (or one of its workers)" if pid else "another process"
        raise UsageError(
            f"{who} is still writing into this folder; wait for it to end or stop it first",
            path=folder,
        )


class RunJournal:
    """The journal of this process's run in `folder`; a context manager.

    Entering creates the folder and the journal and takes the lock; leaving normally removes
    the journal. Leaving by an exception keeps it: the run was interrupted.
    """

    def __init__(self, folder: str | Path, command: str, resume_command: Sequence[str]):
        self.folder = Path(folder)
        self.record = {"command": command, "pid": os.getpid(), "resume_command": [*resume_command]}
        self.fd: int | None = None

    def __enter__(self) -> RunJournal:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = journal_path(self.folder)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None and not _try_lock(fd, fcntl.LOCK_EX):
                os.close(fd)
                refuse_if_held(self.folder)
                continue  # it was let go in between: try again
            # The file may have been removed by a finishing run between open and lock.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        data = json.dumps(self.record, indent=2).encode() + b"\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)  # workers join with shared locks of their own
        self.fd = fd
        return self

    def __exit__(self, kind, value, traceback) -> None:  # type: ignore[no-untyped-def]
        if kind is None:
            with contextlib.suppress(FileNotFoundError):
                journal_path(self.folder).unlink()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def join_run(folder: str | Path) -> None:
    """In a worker process: hold the run's lock too, for as long as this process lives."""
    if fcntl is None:
        return
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(journal_path(folder), os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _joined.append(fd)
