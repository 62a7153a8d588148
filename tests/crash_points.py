"""Kill a `uecity` command at a chosen crash point: just before its Nth `os.replace`.

Every write of the product ends in a rename (`uecity.core.atomic`, a video folder moved into
place, a checkpoint folder), so "before the Nth rename" walks through every moment at which a
`kill -9` leaves a different state on disk. Run as

    python -m tests.crash_points POINT COUNT_FILE uecity-args...

POINT is N (kill before the Nth rename; 0 never kills and only counts) or a name prefix (kill
before the first rename of a file or folder whose name starts with it, e.g. `.step-`).
COUNT_FILE receives the number of renames done so far after each one. The process kills
itself with SIGKILL: no `finally`, no clean-up, like `kill -9`.
Only this process is hooked (run the writers with one worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def install(point: str, count_file: Path) -> None:
    real_replace = os.replace
    done = 0

    def replace(source, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal done
        if point.isdigit() and done + 1 == int(point):
            os.kill(os.getpid(), signal.SIGKILL)
        if not point.isdigit() and Path(source).name.startswith(point):
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(source, target, *args, **kwargs)
        done += 1
        count_file.write_text(str(done))

    os.replace = replace


def run(point: int | str, count_file: Path, *args: str, timeout: float = 300) -> int:
    """Run `uecity args` hooked; its return code (-9 when the crash point was reached)."""
    command = [sys.executable, "-m", "tests.crash_points", str(point), str(count_file), *args]
    return subprocess.run(
        command,
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    ).returncode


def uecity(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `uecity args` unhooked, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "uecity", *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


if __name__ == "__main__":
    install(sys.argv[1], Path(sys.argv[2]))
    sys.argv = ["uecity", *sys.argv[3:]]
    from uecity.cli import main

    main()
