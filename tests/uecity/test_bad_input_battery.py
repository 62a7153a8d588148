"""Every user mistake is one clear line: a battery of malformed inputs over the commands.

Each case asserts what a user sees: exactly one `error:` line (a usage hint on a second line at
most), the README's exit code, no traceback, and nothing changed on disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.factories import build_small_dataset
from uecity.cli import app

runner = CliRunner()
V1 = "videos/0001"


def snapshot(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file and folder under `root` (folders as '<dir>')."""
    return {
        str(p.relative_to(root)): "<dir>"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def assert_one_clear_line(result, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[0] == errors[0] and len(lines) <= 2, output
    for needle in needles:
        assert needle in output, output


def _null_box(data: Path) -> None:
    path = data / V1 / "boxes.parquet"
    table = pq.read_table(path)
    x1 = table.column("x1").to_pylist()
    x1[3] = None
    index = table.schema.get_field_index("x1")
    pq.write_table(table.set_column(index, "x1", pa.array(x1, pa.float64())), path)


def _edit_expression(data: Path, change: Callable[[dict], None]) -> None:
    path = next((data / "expressions/0001").glob("*.json"))
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def _truncate_jpeg(data: Path) -> None:
    frame = data / "videos/0002/frames/000002.jpg"
    frame.write_bytes(frame.read_bytes()[:200])


def _no_videos(data: Path) -> None:
    manifest = json.loads((data / "dataset.json").read_text())
    manifest.update(videos=[], splits={})
    (data / "dataset.json").write_text(json.dumps(manifest))
    for folder in ("videos", "expressions"):
        for path in sorted((data / folder).rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()


# name → (prepare the work folder, command line, exit code, text the line must hold).
# In the command line, {data} is a small clean dataset and {w} the work folder.
CASES: dict[str, tuple[Callable[[Path], None] | None, str, int, tuple[str, ...]]] = {
    "unknown option": (None, "generate --frmes 3 --out {w}/o", 2, ("--frmes", "Usage:")),
    "unknown command": (None, "generatte", 2, ("No such command",)),
    "missing argument": (None, "export --out {w}/o", 2, ("Missing argument",)),
    "not a number": (None, "generate --frames many --out {w}/o", 2, ("--frames",)),
    "below the minimum": (None, "generate --videos 0 --out {w}/o", 2, ("--videos",)),
    "frames over the spec's maximum": (
        None,
        "generate --frames 200000 --out {w}/o",
        2,
        ("--frames", "100000"),
    ),
    "bad shard": (None, "generate --shard 3 --out {w}/o", 2, ("--shard",)),
    "unknown --test-videos": (
        None,
        "compose {data} --test-videos video_9999",
        2,
        ("--test-videos", "video_9999"),
    ),
    "unknown export format": (None, "export {data} --format coco --out {w}/o", 2, ("coco",)),
    "non-UTF-8 spec": (
        lambda w: (w / "spec.yaml").write_bytes(b"run:\n  videos: \xff\n"),
        "generate {w}/spec.yaml --out {w}/o",
        3,
        ("spec.yaml:2:", "UTF-8"),
    ),
    "YAML syntax error": (
        lambda w: (w / "spec.yaml").write_text("run:\n  videos: [1\n"),
        "generate {w}/spec.yaml --out {w}/o",
        3,
        ("spec.yaml:3:1:", "invalid YAML"),
    ),
    "duplicate key in a spec": (
        lambda w: (w / "spec.yaml").write_text("run:\n  videos: 1\n  videos: 2\n"),
        "generate {w}/spec.yaml --out {w}/o",
        3,
        ("spec.yaml:3:3:", "duplicate key 'videos'"),
    ),
    "duplicate key in a vocabulary": (
        lambda w: (w / "vocab.yaml").write_text("extends: default\natoms: {}\natoms: {}\n"),
        "compose {data} --vocabulary {w}/vocab.yaml",
        3,
        ("vocab.yaml:3:1:", "duplicate key 'atoms'"),
    ),
    "generate --out under a file": (
        lambda w: (w / "file").write_text("x"),
        "generate --out {w}/file/sub",
        2,
        ("--out", "is a file"),
    ),
    "export --out under a file": (
        lambda w: (w / "file").write_text("x"),
        "export {data} --out {w}/file/sub",
        2,
        ("--out", "is a file"),
    ),
    "preview --out under a file": (
        lambda w: (w / "file").write_text("x"),
        "preview {data} --out {w}/file/sheet.png",
        2,
        ("--out", "is a file"),
    ),
    "stats --out is a file": (
        lambda w: (w / "file").write_text("x"),
        "stats {data} --out {w}/file",
        2,
        ("not a folder",),
    ),
    "null in boxes.parquet (export)": (
        lambda w: _null_box(w / "data"),
        "export {data} --out {w}/o",
        4,
        ("boxes.parquet", "'x1'", "null"),
    ),
    "null in boxes.parquet (compose)": (
        lambda w: _null_box(w / "data"),
        "compose {data}",
        4,
        ("boxes.parquet", "null"),
    ),
    "truncated JPEG (export)": (
        lambda w: _truncate_jpeg(w / "data"),
        "export {data} --out {w}/o",
        4,
        ("000002.jpg", "truncated"),
    ),
    "referent outside the video (refer-kitti)": (
        lambda w: _edit_expression(w / "data", lambda r: r["label"].update({"99999": [0]})),
        "export {data} --out {w}/o",
        4,
        ("frame 99999", "outside the video"),
    ),
    "referent outside the video (mot)": (
        lambda w: _edit_expression(w / "data", lambda r: r["label"].update({"99999": [0]})),
        "export {data} --format mot --out {w}/o",
        4,
        ("frame 99999",),
    ),
    "unknown track (stats)": (
        lambda w: _edit_expression(w / "data", lambda r: r["label"].update({"1": [0, 77]})),
        "stats {data} --out {w}/o",
        4,
        ("track 77",),
    ),
    "compose on a dataset without videos": (
        lambda w: _no_videos(w / "data"),
        "compose {data}",
        4,
        ("no videos",),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_is_one_clear_line_and_changes_nothing(tmp_path: Path, name: str) -> None:
    prepare, command, code, needles = CASES[name]
    build_small_dataset(tmp_path / "data")
    if prepare is not None:
        prepare(tmp_path)
    before = snapshot(tmp_path)
    args = command.format(data=tmp_path / "data", w=tmp_path).split()
    result = runner.invoke(app, args)
    assert_one_clear_line(result, code, *needles)
    assert snapshot(tmp_path) == before


def test_refused_mot_export_into_an_earlier_export_leaves_it_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_small_dataset(data)
    out = tmp_path / "mot"
    assert (
        runner.invoke(app, ["export", str(data), "--format", "mot", "--out", str(out)]).exit_code
        == 0
    )
    before = snapshot(out)
    _edit_expression(data, lambda r: r["label"].update({"3": [0, 77]}))
    result = runner.invoke(app, ["export", str(data), "--format", "mot", "--out", str(out)])
    assert_one_clear_line(result, 4, "track 77")
    assert snapshot(out) == before


def test_validate_ignores_a_leftover_temporary_with_a_note(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_small_dataset(data)
    (data / V1 / ".motion.json.uecity-tmp-abc.json").write_text("{")  # a save killed mid-write
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 0, result.output
    assert "note: videos/0001/.motion.json.uecity-tmp-abc.json" in result.output
