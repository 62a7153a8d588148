"""Helper processes that die with the command that started them.

`kill -9` of a command gives it no chance to end its pool: without help its worker processes
would keep running, and keep writing into the output folder that a `--resume` is about to
clean. Every process a command starts (the workers of a pool, a multiprocessing manager) runs
`die_with_parent` first: on Linux the kernel sends it SIGKILL the moment its parent ends
(`PR_SET_PDEATHSIG`); everywhere a watchdog thread ends it when it is re-parented. This module
imports almost nothing, so a spawned worker reaches that point within moments of its start
(its heavy imports come with its first task).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_PERIOD_S = 0.2


def _kernel_kill_on_parent_exit() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # no clean-up: the parent's --resume owns the folder now
        time.sleep(WATCHDOG_PERIOD_S)


def die_with_parent(parent_pid: int) -> None:
    """Run first in a child process: end it when `parent_pid` (its parent) ends.

    Pass `os.getpid()` of the parent; a parent that already died before this ran is noticed
    at once (the child has been re-parented).
    """
    _kernel_kill_on_parent_exit()
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def die_with_parent_and_join_run(parent_pid: int, folder: str | Path) -> None:
    """The initializer of a worker of a journalled run (`uecity.run_journal`): die with the
    parent, and hold the run's lock too, so that a `--resume` is refused while it lives."""
    from uecity.run_journal import join_run

    die_with_parent(parent_pid)
    join_run(folder)
