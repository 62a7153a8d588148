"""Multi-scale deformable attention (Deformable-DETR) in pure PyTorch.

`ms_deform_attn_sample` is the core: for every query, head, level and point it bilinearly samples
the value map at a location in [0, 1]² (zero outside the map, pixel centres at (i + 0.5) / size,
as `grid_sample(align_corners=False)`), and sums the samples with the attention weights.
`ms_deform_attn_sample_reference` computes the same thing a second, independent way (explicit
corner gathering and bilinear weights); tests prove the two equal and the benchmark compares
their speed. `MultiScaleDeformableAttention` is the layer with its projections.

Adapted from Deformable-DETR (fundamentalvision/Deformable-DETR: `ms_deform_attn_core_pytorch`
in models/ops/functions/ms_deform_attn_func.py and `MSDeformAttn` in
models/ops/modules/ms_deform_attn.py); tests hold it equal to `transformers`' implementation of
the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SpatialShapes = list[tuple[int, int]]


def ms_deform_attn_sample(
    value: Tensor,
    spatial_shapes: SpatialShapes,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Deformable attention through `grid_sample`.

    value: (B, S, H, Dh), the levels' tokens flattened row-major and concatenated.
    sampling_locations: (B, Q, H, L, P, 2) as (x, y) in [0, 1].
    attention_weights: (B, Q, H, L, P), normalised over L·P.
    Returns (B, Q, H·Dh).
    """
    batch, _, heads, head_dim = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [h * w for h, w in spatial_shapes]
    value_per_level = value.split(sizes, dim=1)
    grids = 2 * sampling_locations - 1  # grid_sample wants [-1, 1]
    samples = []
    for level, (height, width) in enumerate(spatial_shapes):
        # (B, h·w, H, Dh) -> (B·H, Dh, h, w)
        level_value = (
            value_per_level[level]
            .flatten(2)
            .transpose(1, 2)
            .reshape(batch * heads, head_dim, height, width)
        )
        # (B, Q, H, P, 2) -> (B·H, Q, P, 2)
        level_grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        # (B·H, Dh, Q, P)
        samples.append(
            F.grid_sample(
                level_value, level_grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )
        )
    # (B, Q, H, L, P) -> (B·H, 1, Q, L·P)
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    stacked = torch.stack(samples, dim=-2).flatten(-2)  # (B·H, Dh, Q, L·P)
    output = (stacked * weights).sum(-1)  # (B·H, Dh, Q)
    # (B·H, Dh, Q) -> (B, H·Dh, Q) -> (B, Q, H·Dh)
    return output.view(batch, heads * head_dim, queries).transpose(1, 2).contiguous()


def ms_deform_attn_sample_reference(
    value: Tensor,
    spatial_shapes: SpatialShapes,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """The same computation as `ms_deform_attn_sample`, by explicit bilinear interpolation.

    Each location is turned into pixel coordinates (x·w − 0.5, y·h − 0.5); its four neighbouring
    pixels are gathered one by one, those outside the map count zero, and the bilinear weights
    are the distances to the opposite corners. Straightforward and independent of grid_sample.
    """
    batch, _, heads, head_dim = value.shape
    _, queries, _, _, points, _ = sampling_locations.shape
    output = value.new_zeros(batch, queries, heads, head_dim)
    start = 0
    for level, (height, width) in enumerate(spatial_shapes):
        level_value = value[:, start : start + height * width]  # (B, h·w, H, Dh)
        start += height * width
        x = sampling_locations[:, :, :, level, :, 0] * width - 0.5  # (B, Q, H, P)
        y = sampling_locations[:, :, :, level, :, 1] * height - 0.5
        x0 = torch.floor(x)
        y0 = torch.floor(y)
        level_sum = value.new_zeros(batch, queries, heads, points, head_dim)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            xi = x0 + dx
            yi = y0 + dy
            weight = (1 - (x - xi).abs()) * (1 - (y - yi).abs())  # (B, Q, H, P)
            inside = (xi >= 0) & (xi <= width - 1) & (yi >= 0) & (yi <= height - 1)
            index = (yi.clamp(0, height - 1) * width + xi.clamp(0, width - 1)).long()
            # gather per (batch, head): value (B, h·w, H, Dh) -> (B, H, h·w, Dh)
            per_head = level_value.permute(0, 2, 1, 3)
            flat_index = index.permute(0, 2, 1, 3).reshape(batch, heads, queries * points)
            gathered = torch.gather(
                per_head, 2, flat_index[..., None].expand(-1, -1, -1, head_dim)
            )  # (B, H, Q·P, Dh)
            # (B, H, Q·P, Dh) -> (B, Q, H, P, Dh)
            gathered = gathered.view(batch, heads, queries, points, head_dim).permute(0, 2, 1, 3, 4)
            level_sum = level_sum + gathered * (weight * inside)[..., None]
        output = output + (level_sum * attention_weights[:, :, :, level, :, None]).sum(3)
    return output.reshape(batch, queries, heads * head_dim)  # (B, Q, H·Dh)


class MultiScaleDeformableAttention(nn.Module):
    """Attention of each query to `n_points` learned locations per head and level around its
    reference point (2-d) or inside its reference box (4-d)."""

    def __init__(self, d_model: int, n_levels: int, n_heads: int, n_points: int) -> None:
        super().__init__()
        self.d_model = d_model
        self.n_levels = n_levels
        self.n_heads = n_heads
        self.n_points = n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Offsets start as a ring of directions, one per head, growing with the point index."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        directions = torch.stack([angles.cos(), angles.sin()], -1)  # (H, 2)
        directions = directions / directions.abs().max(-1, keepdim=True)[0]
        # (H, 2) -> (H, L, P, 2), flattened in the order the offsets are viewed in forward
        grid = directions.view(self.n_heads, 1, 1, 2).repeat(1, self.n_levels, self.n_points, 1)
        for point in range(self.n_points):
            grid[:, :, point, :] *= point + 1
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        value_input: Tensor,
        spatial_shapes: SpatialShapes,
        value_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """query (B, Q, d); reference_points (B, Q, L, 2) as (x, y) or (B, Q, L, 4) as
        `cxcywh`, all in [0, 1]; value_input (B, S, d); padding mask (B, S) True where padded.
        Returns (B, Q, d)."""
        batch, queries, _ = query.shape
        tokens = value_input.shape[1]
        if sum(h * w for h, w in spatial_shapes) != tokens:
            raise ValueError("spatial_shapes do not add up to the value's token count")
        value = self.value_proj(value_input)
        if value_padding_mask is not None:
            value = value.masked_fill(value_padding_mask[..., None], 0.0)
        head_dim = self.d_model // self.n_heads
        value = value.view(batch, tokens, self.n_heads, head_dim)  # (B, S, H, Dh)
        offsets = self.sampling_offsets(query).view(
            batch, queries, self.n_heads, self.n_levels, self.n_points, 2
        )  # (B, Q, H, L, P, 2)
        weights = self.attention_weights(query).view(
            batch, queries, self.n_heads, self.n_levels * self.n_points
        )
        weights = weights.softmax(-1).view(
            batch, queries, self.n_heads, self.n_levels, self.n_points
        )  # (B, Q, H, L, P)
        if reference_points.shape[-1] == 2:
            # offsets are in pixels of each level
            normaliser = torch.tensor(
                [[w, h] for h, w in spatial_shapes], dtype=query.dtype, device=query.device
            )  # (L, 2) as (w, h)
            locations = (
                reference_points[:, :, None, :, None, :]
                + offsets / normaliser[None, None, None, :, None, :]
            )
        elif reference_points.shape[-1] == 4:
            # offsets are fractions of half the reference box, per point
            locations = (
                reference_points[:, :, None, :, None, :2]
                + offsets / self.n_points * reference_points[:, :, None, :, None, 2:] * 0.5
            )
        else:
            raise ValueError(
                f"reference points must have 2 or 4 values, got {tuple(reference_points.shape)}"
            )
        output = ms_deform_attn_sample(value, spatial_shapes, locations, weights)
        return self.output_proj(output)
