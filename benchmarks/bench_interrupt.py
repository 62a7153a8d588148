"""Interruption benchmark (issue 16): `kill -9` at random moments, then the same command.

For each writer (`generate --workers 2`, `export --format refer-kitti`, optionally `train`) an
uninterrupted reference run is made and timed from the moment its output folder appears (its
first write) to its end; then N trials each start the command, wait for the output folder,
kill it with SIGKILL at a uniformly random moment of that writing phase (a kill during Python's
start-up would test nothing), and run the same command again
(`generate` with `--resume`, as `uecity validate` prints it; `export` and `train` unchanged, no
`--force`). A trial is

- identical: the finishing run exits 0 and the output equals the reference byte for byte
  (train: the model files and the log without its timing column);
- differing: it exits 0 but the output differs;
- failed: the finishing run exits non-zero (or the output is missing).

Generate trials alternate between killing the whole process group (what a scheduler's
pre-emption does) and killing the main process only (its workers must die with it): for the
latter, processes of the run still alive 2 s after the kill are counted as orphans.

    .venv/bin/python benchmarks/bench_interrupt.py [--trials 10] [--train-trials 0] [--json f]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UECITY = [sys.executable, "-m", "uecity"]
SPEC = """\
name: interrupt
capture: {width: 320, height: 180, fps: 10}
run: {videos: 4, frames: 24, warmup_s: 10, seed: 11}
"""


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def train_digest(root: Path) -> dict[str, str]:
    files = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()
        for name in ("model/model.safetensors", "model/config.json", "train_config.yaml")
        if (root / name).is_file()
    }
    if (root / "log.csv").is_file():
        with (root / "log.csv").open(newline="") as handle:
            rows = [row[:-1] for row in csv.reader(handle)]  # without the seconds column
        files["log.csv"] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    return files


def run(args: list[str]) -> int:
    return subprocess.run(
        [*UECITY, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ).returncode


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*UECITY, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until `path` exists (the command's first write) or the command has ended."""
    while not path.exists() and process.poll() is None:
        time.sleep(0.01)


def timed_reference(args: list[str], out: Path) -> float:
    """Run to the end; seconds from the output folder's appearance to the end."""
    process = start(args)
    wait_for(out, process)
    began = time.perf_counter()
    assert process.wait() == 0, f"the reference run {args} failed"
    return time.perf_counter() - began


def killed_run(args: list[str], out: Path, after_s: float, group: bool) -> int:
    """Start `uecity args`, SIGKILL it (its group, or the main process only) `after_s` after its
    output folder appeared; returns how many of its processes are still alive 2 s later."""
    process = start(args)
    wait_for(out, process)
    time.sleep(after_s)
    below = descendants(process.pid)
    if process.poll() is None:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    process.wait()
    time.sleep(2.0)
    orphans = [pid for pid in below if alive(pid)]
    for pid in orphans:  # do not let them spoil the next trial
        os.kill(pid, signal.SIGKILL)
    return len(orphans)


def trials(
    name: str,
    count: int,
    first: Callable[[Path], list[str]],
    again: Callable[[Path], list[str]],
    measure: Callable[[Path], dict[str, str]],
    work: Path,
    rng: random.Random,
    *,
    alternate_main_only: bool = False,
) -> dict:
    reference = work / f"{name}-reference"
    duration = timed_reference(first(reference), reference)
    expected = measure(reference)
    counts = {"identical": 0, "differing": 0, "failed": 0}
    orphans = 0
    main_only = 0
    for trial in range(count):
        out = work / f"{name}-{trial}"
        group = not (alternate_main_only and trial % 2 == 1)
        main_only += not group
        orphans += killed_run(first(out), out, rng.uniform(0.0, duration), group)
        code = run(again(out))
        if code != 0:
            counts["failed"] += 1
        elif measure(out) == expected:
            counts["identical"] += 1
        else:
            counts["differing"] += 1
        shutil.rmtree(out, ignore_errors=True)
    result = {"trials": count, "reference_writing_s": round(duration, 1), **counts}
    if alternate_main_only:
        result.update(main_only_kills=main_only, orphans_after_2s=orphans)
    print(
        f"{name}: {count} kill -9 trials (reference run writing for {duration:.1f} s): "
        f"{counts['identical']} identical, {counts['differing']} differing, "
        f"{counts['failed']} failed"
        + (
            f"; {orphans} orphan processes after {main_only} main-process-only kills"
            if alternate_main_only
            else ""
        ),
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="per writer (generate, export)")
    parser.add_argument("--train-trials", type=int, default=0, help="train trials (slow)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="uecity-interrupt-") as tmp:
        work = Path(tmp)
        spec = work / "spec.yaml"
        spec.write_text(SPEC)
        generate = ["generate", str(spec), "--workers", "2", "--out"]
        results["generate"] = trials(
            "generate",
            args.trials,
            lambda out: [*generate, str(out)],
            lambda out: [*generate, str(out), "--resume"],
            digest,
            work,
            rng,
            alternate_main_only=True,
        )
        dataset = work / "generate-reference"
        compose = ["compose", str(dataset), "-n", "6", "--min-objects", "1", "--min-frames", "2"]
        assert run(compose) == 0
        export = ["export", str(dataset), "--format", "refer-kitti", "--out"]
        results["export"] = trials(
            "export",
            args.trials,
            lambda out: [*export, str(out)],
            lambda out: [*export, str(out)],
            digest,
            work,
            rng,
        )
        if args.train_trials:
            tree = work / "export-reference"
            train = ["train", str(tree), "--preset", "tiny", "--max-steps", "6"]
            train += ["--checkpoint-every", "2", "--no-progress", "--out"]
            results["train"] = trials(
                "train",
                args.train_trials,
                lambda out: [*train, str(out)],
                lambda out: [*train, str(out)],
                train_digest,
                work,
                rng,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failed = sum(
        r["differing"] + r["failed"] + r.get("orphans_after_2s", 0) for r in results.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
