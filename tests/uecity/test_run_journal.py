"""The run journal and helper processes: a run in progress is refused and named, an interrupted
one is recognised, and workers do not outlive a `kill -9` of their command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from uecity.core.errors import UsageError
from uecity.generate.run import plan_run
from uecity.run_journal import JOURNAL_NAME, RunJournal, finish_command, is_held
from uecity.scene.spec import SceneSpec
from uecity.validate import validate_dataset

REPOSITORY = Path(__file__).resolve().parents[2]


def test_journal_is_removed_after_success_and_kept_after_an_interruption(tmp_path: Path) -> None:
    with RunJournal(tmp_path / "a", "generate", ["uecity", "generate", "--resume"]):
        assert is_held(tmp_path / "a")
    assert not (tmp_path / "a" / JOURNAL_NAME).exists()
    with pytest.raises(KeyboardInterrupt), RunJournal(tmp_path / "b", "generate", ["x", "y z"]):
        raise KeyboardInterrupt
    assert not is_held(tmp_path / "b")
    assert finish_command(tmp_path / "b") == "x 'y z'"


def test_a_folder_still_written_is_refused_by_resume_and_named_by_validate(tmp_path: Path) -> None:
    spec = SceneSpec().with_overrides(videos=1, frames=2)
    out = tmp_path / "out"
    with RunJournal(out, "generate", ["uecity", "generate", "--out", str(out), "--resume"]):
        with pytest.raises(UsageError, match="still writing into this folder"):
            plan_run(spec, out, resume=True)
        with pytest.raises(UsageError, match="still writing"):
            RunJournal(out, "generate", []).__enter__()
        problems = [str(p) for p in validate_dataset(out).problems]
        assert len(problems) == 1 and "is still writing into this folder" in problems[0]


def test_a_worker_holding_the_journal_keeps_the_folder_refused(tmp_path: Path) -> None:
    """The lock of a worker (joined with `join_run`) outlives the command's own."""
    out = tmp_path / "out"
    with RunJournal(out, "generate", []):
        pass
    (out / JOURNAL_NAME).write_text("{}")  # an interrupted run's journal
    worker = subprocess.Popen(
        [sys.executable, "-c", f"from uecity.run_journal import join_run; join_run({str(out)!r});"
         "print('joined', flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "joined"
        assert is_held(out)
    finally:
        worker.kill()
        worker.wait()
    assert not is_held(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, time
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing
        from uecity.child_processes import die_with_parent

        def task(_):
            with open({str(pids)!r}, "a") as handle:
                handle.write(f"{{os.getpid()}}\\n")
            time.sleep(60)

        if __name__ == "__main__":
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(2, mp_context=context, initializer=die_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                list(pool.map(task, range(2)))
        """
    )
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=REPOSITORY)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_lines(pids)) < 2:
        time.sleep(0.1)
    workers = [int(p) for p in _lines(pids)]
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    time.sleep(1.0)
    assert [pid for pid in workers if _alive(pid)] == []


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    os.kill(pid, signal.SIGKILL)  # never leave one behind
    return True
