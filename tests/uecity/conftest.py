"""Shared fixtures of the uecity tests: a scripted traffic dataset (tests/traffic_factory.py)."""

from pathlib import Path

import pytest

from tests.traffic_factory import TrafficSpec, build_traffic_dataset
from uecity.dataset import Dataset


@pytest.fixture(scope="session")
def traffic_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("traffic") / "dataset"
    build_traffic_dataset(root, TrafficSpec(videos=2, num_frames=80, concurrent=20))
    return root


@pytest.fixture()
def traffic(traffic_template, tmp_path) -> Dataset:
    """A fresh copy of a scripted 2-video traffic dataset."""
    import shutil

    root = tmp_path / "traffic"
    shutil.copytree(traffic_template, root)
    return Dataset.open(root)
