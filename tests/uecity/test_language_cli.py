"""The compose / export / stats commands, and every bad-input class they refuse."""

from pathlib import Path

from typer.testing import CliRunner

from tests.factories import build_small_dataset
from uecity.cli import app

runner = CliRunner()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_compose_export_stats(traffic, tmp_path):
    result = runner.invoke(app, ["compose", str(traffic.root), "--seed", "1", "-n", "10"])
    assert result.exit_code == 0, result.output
    assert "expressions" in result.output
    out = tmp_path / "rk"
    result = runner.invoke(app, ["export", str(traffic.root), "--out", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "seqmap.txt").is_file()
    result = runner.invoke(
        app, ["stats", str(traffic.root), "--out", str(tmp_path / "s"), "--no-plots"]
    )
    assert result.exit_code == 0, result.output
    assert "Refer-UE-City" in result.output


def _refused(args: list[str], watched: Path, message: str) -> None:
    before = _tree(watched)
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert _tree(watched) == before


def test_unknown_attribute_in_vocabulary(traffic, tmp_path):
    vocabulary = tmp_path / "vocabulary.yaml"
    vocabulary.write_text(
        "attributes: {colour: {}}\natoms:\n  - {id: x, attribute: shade, "
        "test: {object: {colour_name: [red]}}, adjective: [red]}\n"
    )
    _refused(
        ["compose", str(traffic.root), "--vocabulary", str(vocabulary)],
        traffic.root,
        "unknown attribute 'shade'",
    )


def test_dataset_without_motion(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    for video in dataset.videos:
        dataset.video(video).motion_path.unlink()
    _refused(["compose", str(dataset.root)], dataset.root, "without motion data")


def test_thresholds_leaving_nothing(traffic):
    _refused(
        ["compose", str(traffic.root), "--min-frames", "100000"],
        traffic.root,
        "thresholds leave no expression",
    )


def test_conflicting_thresholds(traffic):
    _refused(
        ["compose", str(traffic.root), "--min-objects", "9", "--max-objects", "3"],
        traffic.root,
        "max_objects",
    )


def test_export_into_foreign_folder(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    for export_format in ("refer-kitti", "mot", "cvat"):
        _refused(
            ["export", str(dataset.root), "--out", str(out), "--format", export_format],
            out,
            "not a UE-City export",
        )


def test_unknown_export_format(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    _refused(
        ["export", str(dataset.root), "--out", str(tmp_path / "o"), "--format", "coco"],
        dataset.root,
        "unknown --format",
    )
    assert not (tmp_path / "o").exists()
