"""The deformable encoder: every token of every level attends to a few points of all levels.

Adapted from Deformable-DETR's `DeformableTransformerEncoderLayer` and `get_reference_points`
(fundamentalvision/Deformable-DETR, models/deformable_transformer.py).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from mlstrack.deformable_attention import MultiScaleDeformableAttention, SpatialShapes


class FeedForward(nn.Module):
    """Linear → ReLU → dropout → Linear → dropout, added to the input, then LayerNorm."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout1(torch.relu(self.linear1(x)))
        return self.norm(x + self.dropout2(self.linear2(hidden)))


class EncoderLayer(nn.Module):
    """Deformable self-attention over the multi-scale tokens, then an FFN (post-norm)."""

    def __init__(
        self, d_model: int, ffn_dim: int, dropout: float, n_levels: int, n_heads: int, n_points: int
    ) -> None:
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention(d_model, n_levels, n_heads, n_points)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim, dropout)

    def forward(
        self, src: Tensor, pos: Tensor, reference_points: Tensor, spatial_shapes: SpatialShapes
    ) -> Tensor:
        attended = self.self_attn(src + pos, reference_points, src, spatial_shapes)
        src = self.norm(src + self.dropout(attended))
        return self.ffn(src)


def encoder_reference_points(
    spatial_shapes: SpatialShapes, n_levels: int, device: torch.device
) -> Tensor:
    """(1, S, L, 2) centres of every token, as (x, y) in [0, 1], repeated for every level
    (no padding: every level covers the whole image)."""
    points = []
    for height, width in spatial_shapes:
        ys, xs = torch.meshgrid(
            (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height,
            (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width,
            indexing="ij",
        )
        points.append(torch.stack((xs.reshape(-1), ys.reshape(-1)), -1))  # (h·w, 2)
    reference = torch.cat(points, 0)  # (S, 2)
    return reference[None, :, None, :].expand(1, -1, n_levels, 2)


class DeformableEncoder(nn.Module):
    """A stack of `EncoderLayer`s over the flattened pyramid (B, S, d)."""

    def __init__(self, layer: EncoderLayer, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def forward(self, src: Tensor, pos: Tensor, spatial_shapes: SpatialShapes) -> Tensor:
        n_levels = len(spatial_shapes)
        reference = encoder_reference_points(spatial_shapes, n_levels, src.device)
        reference = reference.expand(src.shape[0], -1, -1, -1)  # (B, S, L, 2)
        for layer in self.layers:
            src = layer(src, pos, reference, spatial_shapes)
        return src
