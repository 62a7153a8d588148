"""Fixed sine position embeddings: 2D for feature maps (DETR's), 1D for word sequences.

The 2D embedding is adapted from DETR's `PositionEmbeddingSine` (facebookresearch/detr,
models/position_encoding.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _sine(positions: Tensor, channels: int, temperature: float = 10000.0) -> Tensor:
    """(...,) positions to (..., channels) interleaved sin/cos features."""
    dim_t = torch.arange(channels, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / channels)
    scaled = positions[..., None] / dim_t  # (..., channels)
    # (..., channels/2, 2) -> (..., channels) as sin, cos, sin, cos, ...
    return torch.stack((scaled[..., 0::2].sin(), scaled[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_2d(height: int, width: int, d_model: int, device: torch.device) -> Tensor:
    """(d_model, height, width) embedding: first half encodes y, second half x, both
    normalised to (0, 2π] as DETR does."""
    scale = 2 * math.pi
    eps = 1e-6
    ys = torch.arange(1, height + 1, dtype=torch.float32, device=device) / (height + eps) * scale
    xs = torch.arange(1, width + 1, dtype=torch.float32, device=device) / (width + eps) * scale
    half = d_model // 2
    pos_y = _sine(ys, half)[:, None, :].expand(height, width, half)  # (h, w, d/2)
    pos_x = _sine(xs, half)[None, :, :].expand(height, width, half)  # (h, w, d/2)
    return torch.cat((pos_y, pos_x), dim=-1).permute(2, 0, 1)  # (d, h, w)


def sine_position_1d(length: int, d_model: int, device: torch.device) -> Tensor:
    """(length, d_model) embedding of word positions 0..length-1."""
    positions = torch.arange(length, dtype=torch.float32, device=device)
    return _sine(positions, d_model)  # (L, d)
