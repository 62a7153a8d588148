from __future__ import annotations

import pytest
import torch

from mlstrack.deformable_attention import (
    MultiScaleDeformableAttention,
    ms_deform_attn_sample,
    ms_deform_attn_sample_reference,
)

SHAPES = [(6, 8), (3, 4), (2, 2), (1, 1)]


def _inputs(
    seed: int, batch: int = 2, queries: int = 5, heads: int = 2, head_dim: int = 3, points: int = 3
) -> tuple:
    g = torch.Generator().manual_seed(seed)
    tokens = sum(h * w for h, w in SHAPES)
    value = torch.randn(batch, tokens, heads, head_dim, generator=g, dtype=torch.float64)
    # locations reach outside [0, 1] so zero padding at the borders is exercised too
    locations = (
        torch.rand(batch, queries, heads, len(SHAPES), points, 2, generator=g, dtype=torch.float64)
        * 1.4
        - 0.2
    )
    weights = torch.rand(
        batch, queries, heads, len(SHAPES), points, generator=g, dtype=torch.float64
    )
    weights = weights / weights.sum((-1, -2), keepdim=True)
    return value, locations, weights


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_sample_equals_explicit_bilinear_reference(seed: int) -> None:
    value, locations, weights = _inputs(seed)
    fast = ms_deform_attn_sample(value, SHAPES, locations, weights)
    reference = ms_deform_attn_sample_reference(value, SHAPES, locations, weights)
    assert fast.shape == (2, 5, 6)
    assert torch.allclose(fast, reference, atol=1e-10)


def test_hand_computed_single_point() -> None:
    # one 2×2 map, one point at the centre of the map: the average of the four pixels
    value = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1, 1)
    locations = torch.full((1, 1, 1, 1, 1, 2), 0.5)
    weights = torch.ones(1, 1, 1, 1, 1)
    for fn in (ms_deform_attn_sample, ms_deform_attn_sample_reference):
        assert fn(value, [(2, 2)], locations, weights).item() == pytest.approx(2.5)
    # at the first pixel's centre exactly that pixel; half a pixel outside, half of it
    locations = torch.tensor([0.25, 0.25]).view(1, 1, 1, 1, 1, 2)
    assert ms_deform_attn_sample(value, [(2, 2)], locations, weights).item() == pytest.approx(1)
    locations = torch.tensor([0.0, 0.25]).view(1, 1, 1, 1, 1, 2)
    assert ms_deform_attn_sample_reference(
        value, [(2, 2)], locations, weights
    ).item() == pytest.approx(0.5)


def test_gradients_agree() -> None:
    value, locations, weights = _inputs(3)
    grads = []
    for fn in (ms_deform_attn_sample, ms_deform_attn_sample_reference):
        v, w = value.clone().requires_grad_(), weights.clone().requires_grad_()
        fn(v, SHAPES, locations, w).sum().backward()
        grads.append((v.grad, w.grad))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-10)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-10)


@pytest.mark.parametrize("ref_dim", [2, 4])
def test_layer_shapes(ref_dim: int) -> None:
    layer = MultiScaleDeformableAttention(d_model=16, n_levels=len(SHAPES), n_heads=4, n_points=2)
    tokens = sum(h * w for h, w in SHAPES)
    query = torch.randn(1, 7, 16)
    reference = torch.rand(1, 7, len(SHAPES), ref_dim)
    out = layer(query, reference, torch.randn(1, tokens, 16), SHAPES)
    assert out.shape == (1, 7, 16) and out.dtype == torch.float32
    with pytest.raises(ValueError, match="spatial_shapes"):
        layer(query, reference, torch.randn(1, tokens + 1, 16), SHAPES)
