"""Shared fixtures: the `tiny` preset with tiny random transformers configs (no download)."""

from __future__ import annotations

import huggingface_hub.constants
import pytest
import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.targets import FrameTargets


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach the hub: offline mode and an empty cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def tiny_config() -> MLSTrackConfig:
    return MLSTrackConfig.tiny()


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))


def two_frame_targets() -> list[FrameTargets]:
    """Two objects moving a little between two frames; object 3 is referred, object 5 not."""
    return [
        FrameTargets(torch.tensor([[0.30, 0.40, 0.20, 0.30], [0.70, 0.60, 0.10, 0.20]]),
                     torch.tensor([3, 5]), torch.tensor([1.0, 0.0])),
        FrameTargets(torch.tensor([[0.32, 0.40, 0.20, 0.30], [0.68, 0.60, 0.10, 0.20]]),
                     torch.tensor([3, 5]), torch.tensor([1.0, 0.0])),
    ]
