"""Shared fixtures: the `tiny` preset with tiny random transformers configs (no download)."""

from __future__ import annotations

from dataclasses import dataclass

import huggingface_hub.constants
import pytest
import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import SetCriterion, next_training_tracks
from mlstrack.model import MLSTrack
from mlstrack.targets import FrameTargets
from mlstrack.text_encoders import TextFeatures
from mlstrack.track_state import TrackState
from mlstrack.tracker_config import TrackerConfig

# The tiny models are far too small to gain from intra-op threads; on a shared 2-core machine
# extra threads only contend (measured: 0.06 s vs 1.4 s per training step).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach the hub: offline mode and an empty cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HOME", str(home))
    # huggingface_hub reads these at import time: patch the values too, so a developer's own
    # cache cannot satisfy a test that expects "not available offline"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))


# the words of the tests' sentences, as the trainer would collect them from a dataset
TEST_WORDS = (
    "a", "black", "blue", "car", "cars", "crossing", "left", "moving", "parked", "pedestrian",
    "pedestrians", "red", "right", "the", "to", "-", "turning", "white", "vehicles", "or",
)  # fmt: skip


@pytest.fixture
def tiny_config() -> MLSTrackConfig:
    return MLSTrackConfig.tiny(word_vocabulary=TEST_WORDS)


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))


def two_frame_targets() -> list[FrameTargets]:
    """Two objects moving a little between two frames; object 3 is referred, object 5 not."""
    return [
        FrameTargets(
            torch.tensor([[0.30, 0.40, 0.20, 0.30], [0.70, 0.60, 0.10, 0.20]]),
            torch.tensor([3, 5]),
            torch.tensor([1.0, 0.0]),
        ),
        FrameTargets(
            torch.tensor([[0.32, 0.40, 0.20, 0.30], [0.68, 0.60, 0.10, 0.20]]),
            torch.tensor([3, 5]),
            torch.tensor([1.0, 0.0]),
        ),
    ]


def clip_loss(
    model: MLSTrack, criterion: SetCriterion, images: list[torch.Tensor], text: TextFeatures
) -> tuple[torch.Tensor, TrackState]:
    """Weighted loss of a two-frame clip, tracks carried from frame to frame as in training."""
    track = TrackState.empty(model.config.d_model)
    total = torch.zeros(())
    for image, targets in zip(images, two_frame_targets(), strict=True):
        outputs = model(image, text, track)
        assignment = criterion.assign(outputs, targets, track.ids)
        total = total + criterion.total(criterion(outputs, targets, track.ids, assignment))
        track = next_training_tracks(model.query_interaction, outputs, targets, assignment, track)
    return total, track


@dataclass
class Overfitted:
    model: MLSTrack
    text: TextFeatures
    images: list[torch.Tensor]
    losses: list[float]
    tracker: TrackerConfig


@pytest.fixture(scope="session")
def overfitted() -> Overfitted:
    """The tiny model trained 60 steps on one two-frame clip (shared: it is the slow part)."""
    torch.manual_seed(0)
    config = MLSTrackConfig.tiny()
    model = MLSTrack(config).train()
    criterion = SetCriterion(config)
    text = model.encode_text(["the car on the left"])
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(1, 3, 64, 96, generator=generator) for _ in range(2)]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for _ in range(60):
        total, _ = clip_loss(model, criterion, images, text)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        losses.append(total.item())
    # thresholds a few seconds of CPU training reach; the paper's 0.7 / 0.6 take a minute
    tracker = TrackerConfig(new_track_score=0.4, drop_score=0.3)
    return Overfitted(model.eval(), text, images, losses, tracker)
