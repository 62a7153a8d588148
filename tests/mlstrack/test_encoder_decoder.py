"""Deformable encoder and decoder (with box refinement), and the sine position embeddings."""

from __future__ import annotations

import torch

from mlstrack.decoder import DecoderLayer, DeformableDecoder
from mlstrack.encoder import DeformableEncoder, EncoderLayer, encoder_reference_points
from mlstrack.position_encoding import sine_position_1d, sine_position_2d

SHAPES = [(4, 6), (2, 3)]


def test_encoder_reference_points_are_token_centres() -> None:
    points = encoder_reference_points(SHAPES, 2, torch.device("cpu"))
    assert points.shape == (1, 4 * 6 + 2 * 3, 2, 2)
    assert torch.allclose(points[0, 0, 0], torch.tensor([0.5 / 6, 0.5 / 4]))
    assert torch.allclose(points[0, -1, 1], torch.tensor([2.5 / 3, 1.5 / 2]))


def test_encoder_shapes() -> None:
    encoder = DeformableEncoder(EncoderLayer(16, 32, 0.0, 2, 4, 2), num_layers=2)
    src = torch.randn(1, 30, 16)
    out = encoder(src, torch.randn(1, 30, 16), SHAPES)
    assert out.shape == (1, 30, 16) and out.dtype == torch.float32


def test_decoder_refines_boxes_per_layer() -> None:
    torch.manual_seed(0)
    decoder = DeformableDecoder(DecoderLayer(16, 32, 0.0, 2, 4, 2), num_layers=3, d_model=16)
    boxes = torch.rand(1, 5, 4) * 0.5 + 0.25
    hidden, refined = decoder(
        torch.randn(1, 5, 16), torch.randn(1, 5, 16), boxes, torch.randn(1, 30, 16), SHAPES
    )
    assert len(hidden) == len(refined) == 3
    assert hidden[-1].shape == (1, 5, 16) and refined[-1].shape == (1, 5, 4)
    # the box heads start at zero: every layer returns the reference boxes unchanged
    assert torch.allclose(refined[0], boxes, atol=1e-5)
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[:3, 3:] = mask[3:, :3] = True
    hidden_masked, _ = decoder(
        torch.randn(1, 5, 16),
        torch.randn(1, 5, 16),
        boxes,
        torch.randn(1, 30, 16),
        SHAPES,
        attn_mask=mask,
    )
    assert hidden_masked[-1].shape == (1, 5, 16)


def test_sine_positions() -> None:
    pos = sine_position_2d(3, 5, 16, torch.device("cpu"))
    assert pos.shape == (16, 3, 5)
    assert torch.allclose(pos[:8, :, 0], pos[:8, :, 4])  # first half depends on y only
    assert torch.allclose(pos[8:, 0], pos[8:, 2])  # second half on x only
    words = sine_position_1d(7, 16, torch.device("cpu"))
    assert words.shape == (7, 16) and not torch.allclose(words[0], words[1])
