"""MLS-Track: referring multi-object tracking with multilevel semantic interaction.

The model of the UE-City paper (§4): a TransRMOT-style Deformable-DETR tracker with early
visual-text fusion, a Semantic Guidance Module on the queries and a Semantic Correlation Branch
scoring queries against a CLIP sentence embedding. Heavy imports (torch, transformers) happen
when a submodule is imported, not here.
"""

from __future__ import annotations

from mlstrack.config import MLSTrackConfig

__all__ = ["MLSTrackConfig"]
