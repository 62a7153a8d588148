"""A tiny scene for generation tests: small images, few frames, short warm-up."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

TINY = {
    "name": "tiny",
    "capture": {"width": 320, "height": 180, "fps": 10},
    "run": {"videos": 3, "frames": 20, "warmup_s": 20, "seed": 7},
    "demand": {"vehicles_per_hour": 2400, "pedestrians_per_hour": 1200, "parked_vehicles": 4},
}


@pytest.fixture
def tiny_spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under `root`."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
