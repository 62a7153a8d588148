"""The deformable decoder with iterative box refinement (Deformable-DETR).

Each layer: query self-attention (with an optional mask that keeps the denoising groups apart),
deformable cross-attention to the encoder memory around each query's reference box, an FFN.
After each layer that layer's box head refines the boxes in logit space; the refined boxes,
detached, are the next layer's reference boxes.

Adapted from Deformable-DETR's `DeformableTransformerDecoderLayer` and
`DeformableTransformerDecoder` with box refinement (fundamentalvision/Deformable-DETR,
models/deformable_transformer.py).
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor, nn

from mlstrack.box_ops import inverse_sigmoid
from mlstrack.deformable_attention import MultiScaleDeformableAttention, SpatialShapes
from mlstrack.encoder import FeedForward


class MLP(nn.Module):
    """`num_layers` Linear layers with ReLU between them."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

    def forward(self, x: Tensor) -> Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class DecoderLayer(nn.Module):
    def __init__(
        self, d_model: int, ffn_dim: int, dropout: float, n_levels: int, n_heads: int, n_points: int
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.cross_attn = MultiScaleDeformableAttention(d_model, n_levels, n_heads, n_points)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim, dropout)

    def forward(
        self,
        tgt: Tensor,
        query_pos: Tensor,
        reference_boxes: Tensor,
        memory: Tensor,
        spatial_shapes: SpatialShapes,
        attn_mask: Tensor | None,
    ) -> Tensor:
        """tgt, query_pos (B, N, d); reference_boxes (B, N, L, 4); memory (B, S, d)."""
        q = k = tgt + query_pos
        attended, _ = self.self_attn(q, k, tgt, attn_mask=attn_mask, need_weights=False)
        tgt = self.norm1(tgt + self.dropout1(attended))
        attended = self.cross_attn(tgt + query_pos, reference_boxes, memory, spatial_shapes)
        tgt = self.norm2(tgt + self.dropout2(attended))
        return self.ffn(tgt)


class DeformableDecoder(nn.Module):
    """Decoder layers, each followed by its own box head (iterative refinement)."""

    def __init__(self, layer: DecoderLayer, num_layers: int, d_model: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        box_head = MLP(d_model, d_model, 4, 3)
        nn.init.zeros_(box_head.layers[-1].weight)
        nn.init.zeros_(box_head.layers[-1].bias)
        self.bbox_embed = nn.ModuleList(copy.deepcopy(box_head) for _ in range(num_layers))

    def forward(
        self,
        tgt: Tensor,
        query_pos: Tensor,
        reference_boxes_cxcywh: Tensor,
        memory: Tensor,
        spatial_shapes: SpatialShapes,
        attn_mask: Tensor | None = None,
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Returns per layer the query embeddings (B, N, d) and refined boxes (B, N, 4) cxcywh."""
        n_levels = len(spatial_shapes)
        reference = reference_boxes_cxcywh
        hidden_states, boxes = [], []
        for layer, box_head in zip(self.layers, self.bbox_embed, strict=True):
            # (B, N, 4) -> (B, N, L, 4): the same box on every level (no padding)
            level_reference = reference[:, :, None, :].expand(-1, -1, n_levels, -1)
            tgt = layer(tgt, query_pos, level_reference, memory, spatial_shapes, attn_mask)
            refined = (box_head(tgt) + inverse_sigmoid(reference)).sigmoid()
            hidden_states.append(tgt)
            boxes.append(refined)
            reference = refined.detach()
        return hidden_states, boxes
