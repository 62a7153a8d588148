"""Parameter counts of MLS-Track per component and for the rows of the paper's Table 3.

Models are built on PyTorch's "meta" device: shapes only, no memory and no initialisation, so
the paper configuration (with RoBERTa-base and CLIP ViT-L/14's text tower) counts in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlstrack.config import VARIANTS, MLSTrackConfig
from mlstrack.model import MLSTrack, parameter_summary, trainable_parameters

# Table 3 of the paper: trainable parameters of TransRMOT*, +SGM, +SGM+SCB.
PAPER_TABLE3_MILLIONS = {"transrmot": 42.8, "sgm": 43.0, "sgm_scb": 43.5}


@dataclass(frozen=True)
class ParameterRow:
    component: str
    trainable: int
    frozen: int


def _meta_model(config: MLSTrackConfig) -> MLSTrack:
    with torch.device("meta"):
        return MLSTrack(config)


def component_counts(config: MLSTrackConfig) -> list[ParameterRow]:
    """Trainable and frozen parameters per component of `config`'s model."""
    summary = parameter_summary(_meta_model(config))
    return [ParameterRow(name, trainable, frozen) for name, (trainable, frozen) in summary.items()]


def table3_counts(config: MLSTrackConfig) -> dict[str, int]:
    """Trainable parameters of each Table 3 row (variant) with `config`'s other settings."""
    counts = {}
    for variant in VARIANTS:
        row = config.replace(
            variant=variant,
            sgm_variant="full" if variant == "transrmot" else config.sgm_variant,
            scb_variant=config.scb_variant if variant == "sgm_scb" else "clip",
        )
        counts[variant] = trainable_parameters(_meta_model(row))
    return counts
