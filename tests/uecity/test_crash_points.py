"""Crash points: each writer killed (SIGKILL, no clean-up) just before one of its renames, then
finished by the same command, gives byte for byte what an uninterrupted run gives.

The kills are real (`tests.crash_points` runs the command in a subprocess that kills itself
inside `os.replace`); the crash points cover the first rename (before the manifest or the
export's journal exists), one in the middle, and the last.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from tests.crash_points import run, uecity
from tests.factories import build_small_dataset
from tests.uecity.test_bad_input_battery import snapshot

SPEC = {
    "name": "crash",
    "capture": {"width": 160, "height": 90, "fps": 10},
    "run": {"videos": 2, "frames": 3, "warmup_s": 5, "seed": 3},
}
KILLED = -9


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict[str, str]]:
    """The spec, the number of renames of an uninterrupted run, and its output."""
    work = tmp_path_factory.mktemp("generate")
    spec = work / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    count = work / "count"
    assert run(0, count, "generate", str(spec), "--out", str(work / "reference")) == 0
    return spec, int(count.read_text()), snapshot(work / "reference")


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_generate_killed_at_a_rename_is_finished_by_the_command_validate_prints(
    generated: tuple[Path, int, dict[str, str]], tmp_path: Path, where: str
) -> None:
    spec, total, reference = generated
    point = {"first": 1, "middle": total // 2, "last": total}[where]
    out = tmp_path / "out"
    assert run(point, tmp_path / "count", "generate", str(spec), "--out", str(out)) == KILLED
    checked = uecity("validate", str(out))
    assert checked.returncode == 5 and "interrupted `uecity generate` run" in checked.stdout
    command = checked.stdout.split("finish it with: ", 1)[1].splitlines()[0]
    assert command.startswith("uecity generate ") and "--resume" in command
    finished = uecity(*shlex.split(command)[1:])
    assert finished.returncode == 0, finished.stderr
    assert snapshot(out) == reference
    assert uecity("validate", str(out)).returncode == 0


def test_generate_killed_twice_in_a_row(
    generated: tuple[Path, int, dict[str, str]], tmp_path: Path
) -> None:
    """A kill, then the resume killed too, then the resume: still the same dataset."""
    spec, total, reference = generated
    out = tmp_path / "out"
    args = ("generate", str(spec), "--out", str(out))
    assert run(total // 3, tmp_path / "count", *args) == KILLED
    assert run(2, tmp_path / "count", *args, "--resume") == KILLED
    assert uecity(*args, "--resume").returncode == 0
    assert snapshot(out) == reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """format → (the dataset, renames of an uninterrupted export, its output), made once."""
    work = tmp_path_factory.mktemp("export")
    data = build_small_dataset(work / "data").root
    made: dict[str, tuple[Path, int, dict[str, str]]] = {}

    def reference(export_format: str) -> tuple[Path, int, dict[str, str]]:
        if export_format not in made:
            out, count = work / export_format, work / f"{export_format}.count"
            args = ("export", str(data), "--format", export_format, "--workers", "1")
            assert run(0, count, *args, "--out", str(out)) == 0
            made[export_format] = (data, int(count.read_text()), snapshot(out))
        return made[export_format]

    return reference


@pytest.mark.parametrize(
    ("export_format", "where"),
    [
        ("refer-kitti", "first"),
        ("refer-kitti", "middle"),
        ("refer-kitti", "last"),
        ("mot", "middle"),
        ("cvat", "last"),
    ],
)
def test_export_killed_at_a_rename_is_finished_by_the_same_command(
    exported, tmp_path: Path, export_format: str, where: str
) -> None:  # type: ignore[no-untyped-def]
    data, total, reference = exported(export_format)
    point = {"first": 1, "middle": total // 2, "last": total}[where]
    args = ("export", str(data), "--format", export_format, "--workers", "1")
    out = tmp_path / "out"
    assert run(point, tmp_path / "count", *args, "--out", str(out)) == KILLED
    finished = uecity(*args, "--out", str(out))  # no --force
    assert finished.returncode == 0, finished.stderr
    assert snapshot(out) == reference


def test_reexport_killed_half_way_needs_no_force(tmp_path: Path) -> None:
    """A re-export into an earlier export's folder (the frames changed since), killed half
    way, is finished without --force, to what a fresh export gives."""
    data = build_small_dataset(tmp_path / "data").root
    args = ("export", str(data), "--workers", "1", "--out")
    assert uecity(*args, str(tmp_path / "out")).returncode == 0
    for frame in sorted(data.rglob("frames/*")):
        frame.touch()  # new modification times: every image is written again
    assert run(5, tmp_path / "count", *args, str(tmp_path / "out")) == KILLED
    assert uecity(*args, str(tmp_path / "out")).returncode == 0
    assert uecity(*args, str(tmp_path / "fresh")).returncode == 0
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "fresh")


@pytest.mark.parametrize("where", ["first", "last"])
def test_compose_killed_at_a_rename_is_finished_by_the_same_command(
    tmp_path: Path, where: str
) -> None:
    reference = build_small_dataset(tmp_path / "reference").root
    args = ("compose", "-n", "4", "--min-objects", "1", "--min-frames", "1", "--workers", "1")
    count = tmp_path / "count"
    assert run(0, count, *args[:1], str(reference), *args[1:]) == 0
    total = int(count.read_text())
    point = {"first": 1, "middle": total // 2, "last": total}[where]
    out = build_small_dataset(tmp_path / "out").root
    assert run(point, count, *args[:1], str(out), *args[1:]) == KILLED
    assert uecity(*args[:1], str(out), *args[1:]).returncode == 0
    assert snapshot(out) == snapshot(reference)


@pytest.mark.parametrize("where", ["first", "last"])
def test_merge_killed_at_a_rename_is_finished_by_the_same_command(
    generated: tuple[Path, int, dict[str, str]], tmp_path: Path, where: str
) -> None:
    spec, _, reference = generated
    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for i, shard in enumerate(shards):
        assert (
            uecity("generate", str(spec), "--shard", f"{i}/2", "--out", str(shard)).returncode == 0
        )
    count = tmp_path / "count"
    args = ("merge", *(str(s) for s in shards), "--out")
    assert run(0, count, *args, str(tmp_path / "merged")) == 0
    assert snapshot(tmp_path / "merged") == reference  # shards merged equal one run
    point = {"first": 1, "last": int(count.read_text())}[where]
    out = tmp_path / "out"
    assert run(point, count, *args, str(out)) == KILLED
    assert "interrupted `uecity merge` run" in uecity("validate", str(out)).stdout
    finished = uecity(*args, str(out))
    assert finished.returncode == 0, finished.stderr
    assert snapshot(out) == reference
