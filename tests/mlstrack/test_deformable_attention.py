from __future__ import annotations

import pytest
import torch

from mlstrack.deformable_attention import (
    MultiScaleDeformableAttention,
    ms_deform_attn_sample,
    ms_deform_attn_sample_reference,
)

SHAPES = [(6, 8), (3, 4), (2, 2), (1, 1)]


def transformers_shape_arguments(
    shapes: list[tuple[int, int]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (spatial_shapes, level_start_index) tensors transformers' deformable attention takes
    besides the shape list ours takes."""
    spatial = torch.tensor(shapes)
    return spatial, torch.cat([spatial.new_zeros(1), spatial.prod(1).cumsum(0)[:-1]])


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


@pytest.mark.parametrize("seed", [0, 1])
def test_sampling_equals_transformers_pure_pytorch_implementation(seed: int) -> None:
    """Ours against the reference that `transformers` ships (its pure-PyTorch path of
    Deformable-DETR's `MSDeformAttnFunction`), not only against our own second copy."""
    from transformers.models.deformable_detr.modeling_deformable_detr import (
        MultiScaleDeformableAttention as TransformersSampling,
    )

    value, locations, weights = _inputs(seed)
    spatial, level_start = transformers_shape_arguments(SHAPES)
    theirs = TransformersSampling()(value, spatial, SHAPES, level_start, locations, weights, 64)
    assert torch.allclose(ms_deform_attn_sample(value, SHAPES, locations, weights), theirs)


@pytest.mark.parametrize("ref_dim", [2, 4])
def test_layer_equals_transformers_layer_with_the_same_weights(ref_dim: int) -> None:
    """The whole layer (projections, offsets normalised per level or per box, softmax over
    levels·points, padding mask) against transformers' `DeformableDetrMultiscaleDeformableAttention`
    holding the same weights."""
    from transformers import DeformableDetrConfig
    from transformers.models.deformable_detr.modeling_deformable_detr import (
        DeformableDetrMultiscaleDeformableAttention,
    )

    torch.manual_seed(ref_dim)
    ours = MultiScaleDeformableAttention(d_model=16, n_levels=len(SHAPES), n_heads=4, n_points=2)
    for parameter in ours.parameters():  # off the initialisation, so every weight matters
        torch.nn.init.normal_(parameter, std=0.3)
    theirs = DeformableDetrMultiscaleDeformableAttention(
        DeformableDetrConfig(d_model=16, num_feature_levels=len(SHAPES)), num_heads=4, n_points=2
    )
    theirs.load_state_dict(ours.state_dict(), strict=False)
    assert {k for k, _ in theirs.named_parameters()} == {k for k, _ in ours.named_parameters()}
    tokens = sum(h * w for h, w in SHAPES)
    g = torch.Generator().manual_seed(7)
    query, pos = torch.randn(2, 2, 7, 16, generator=g)
    memory = torch.randn(2, tokens, 16, generator=g)
    reference = torch.rand(2, 7, len(SHAPES), ref_dim, generator=g) * 0.6 + 0.2
    padded = torch.zeros(2, tokens, dtype=torch.bool)
    padded[1, -5:] = True
    spatial, level_start = transformers_shape_arguments(SHAPES)
    with torch.no_grad():
        expected, _ = theirs(
            query,
            attention_mask=~padded,
            encoder_hidden_states=memory,
            position_embeddings=pos,
            reference_points=reference,
            spatial_shapes=spatial,
            spatial_shapes_list=SHAPES,
            level_start_index=level_start,
        )
        got = ours(query + pos, reference, memory, SHAPES, value_padding_mask=padded)
    assert torch.allclose(got, expected, atol=1e-5)
