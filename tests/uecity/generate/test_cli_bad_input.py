"""Every class of bad input gets one clear message, a non-zero exit and no output written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from uecity.cli import app

runner = CliRunner()

CASES = {
    "unknown template": ({"intersection": {"template": "roundabout9"}}, 3, "unknown template"),
    "zero demand": (
        {"demand": {"vehicles_per_hour": 0, "pedestrians_per_hour": 0, "parked_vehicles": 0}},
        3,
        "zero demand",
    ),
    "absurd resolution": ({"capture": {"width": 100000}}, 3, "capture.width"),
    "tiny resolution": ({"capture": {"height": 2}}, 3, "capture.height"),
    "absurd fps": ({"capture": {"fps": 5000}}, 3, "capture.fps"),
    "zero fps": ({"capture": {"fps": 0}}, 3, "capture.fps"),
    "unknown colour": (
        {"demand": {"mix": {"car": {"share": 1, "colours": {"plaid": 1}}}}},
        3,
        "plaid",
    ),
    "unknown backend": ({"run": {"backend": "blender"}}, 3, "run.backend"),
    "unknown field": ({"run": {"vidoes": 3}}, 3, "vidoes"),
    "camera sees no road": (
        {
            "cameras": [
                {"x": 0, "y": 0, "height_m": 10, "yaw_deg": 0, "pitch_deg": 30, "fov_deg": 40}
            ]
        },
        3,
        "sees no road",
    ),
    "camera far away": (
        {"cameras": [{"x": 2000, "y": 2000, "height_m": 10, "yaw_deg": 45, "pitch_deg": -10}]},
        3,
        "sees no road",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec(case: str, tmp_path: Path) -> None:
    data, code, needle = CASES[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", str(spec), "--out", str(out)])
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert str(spec) in result.output
    assert not out.exists()


def test_invalid_yaml(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("run:\n  videos: [1, 2\n")
    result = runner.invoke(app, ["generate", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert "invalid YAML" in result.output and "broken.yaml" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_spec_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 3 and "cannot read the spec" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--shard", "3/2"], "--shard"),
        (["--shard", "x"], "--shard"),
        (["--videos", "0"], "--videos"),
        (["--frames", "-1"], "--frames"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_options(args: list[str], needle: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not out.exists()


def test_out_is_someone_elses_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    result = runner.invoke(
        app, ["generate", "--out", str(tmp_path), "--videos", "1", "--frames", "1"]
    )
    assert result.exit_code == 2 and "not a UE-City dataset" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_merge_refuses_incomplete_shards(tmp_path: Path, tiny_spec_file: Path) -> None:
    shard = tmp_path / "s0"
    result = runner.invoke(
        app,
        ["generate", str(tiny_spec_file), "--out", str(shard), "--shard", "0/3", "--frames", "2"],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["merge", str(shard), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "lack videos" in result.output
