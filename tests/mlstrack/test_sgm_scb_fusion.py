"""SGM (Table 4 variants), the referring heads (Table 5a variants) and early fusion."""

from __future__ import annotations

import pytest
import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.fusion import EarlyFusion, WordProjection
from mlstrack.scb import ContrastiveReferringHead, build_referring_head, mean_word_feature
from mlstrack.sgm import SemanticGuidanceModule
from mlstrack.text_encoders import TextFeatures


def _text(length: int = 5, width: int = 24, clip: int = 16) -> TextFeatures:
    padding = torch.zeros(1, length, dtype=torch.bool)
    padding[0, -2:] = True
    return TextFeatures(torch.randn(1, length, width), padding, torch.randn(1, clip))


@pytest.mark.parametrize("variant", ["full", "only_det", "only_cross_attention"])
def test_sgm_variants(variant: str) -> None:
    torch.manual_seed(0)
    sgm = SemanticGuidanceModule(32, 4, 64, 0.0, variant).eval()
    queries, pos = torch.randn(1, 10, 32), torch.randn(1, 10, 32)
    words, words_pos = torch.randn(1, 5, 32), torch.randn(1, 5, 32)
    padding = torch.zeros(1, 5, dtype=torch.bool)
    out = sgm(queries, pos, words, words_pos, padding, num_detect=6)
    assert out.shape == (1, 10, 32)
    if variant == "only_det":
        assert torch.equal(out[:, 6:], queries[:, 6:])  # track queries bypass the SGM
    else:
        assert not torch.allclose(out[:, 6:], queries[:, 6:])
    assert hasattr(sgm, "self_attn") == (variant != "only_cross_attention")


def test_sgm_words_matter_and_padding_is_ignored() -> None:
    torch.manual_seed(0)
    sgm = SemanticGuidanceModule(32, 4, 64, 0.0).eval()
    queries, pos = torch.randn(1, 4, 32), torch.randn(1, 4, 32)
    words, words_pos = torch.randn(1, 5, 32), torch.randn(1, 5, 32)
    padding = torch.tensor([[False, False, False, True, True]])
    out = sgm(queries, pos, words, words_pos, padding, 4)
    changed = words.clone()
    changed[0, 3:] = 100.0  # padded words
    assert torch.allclose(out, sgm(queries, pos, changed, words_pos, padding, 4), atol=1e-6)
    changed[0, 0] = 100.0
    assert not torch.allclose(out, sgm(queries, pos, changed, words_pos, padding, 4))


def test_contrastive_head_is_scaled_cosine() -> None:
    torch.manual_seed(0)
    head = ContrastiveReferringHead(32, 16, init_temperature=0.07)
    text = _text()
    hidden = torch.randn(1, 6, 32)
    logits = head(hidden, text, torch.zeros(1, 5, 32))
    cosine = torch.nn.functional.cosine_similarity(
        head.projection(hidden), text.sentence_embedding[:, None], dim=-1
    )
    assert logits.shape == (1, 6, 1)
    assert torch.allclose(logits[..., 0], cosine / 0.07, atol=1e-4)
    roberta = ContrastiveReferringHead(32, 24, 0.07, source="roberta")
    assert roberta(hidden, text, torch.zeros(1, 5, 32)).shape == (1, 6, 1)
    assert torch.allclose(mean_word_feature(text), text.word_features[:, :3].mean(1))


@pytest.mark.parametrize(
    ("variant", "scb"),
    [
        ("transrmot", "clip"),
        ("sgm_scb", "clip"),
        ("sgm_scb", "roberta"),
        ("sgm_scb", "concat_mlp"),
        ("sgm_scb", "cross_attention"),
    ],
)
def test_referring_head_variants(variant: str, scb: str) -> None:
    config = MLSTrackConfig.tiny(variant=variant, scb_variant=scb)
    head = build_referring_head(config, text_width=24, clip_width=16)
    logits = head(torch.randn(1, 6, 32), _text(), torch.randn(1, 5, 32))
    assert logits.shape == (1, 6, 1) and logits.dtype == torch.float32


def test_early_fusion_is_residual_and_word_projection_normalises() -> None:
    torch.manual_seed(0)
    projection = WordProjection(24, 32, 0.0)
    words = projection(torch.randn(1, 5, 24) * 10)
    assert words.shape == (1, 5, 32)
    assert torch.allclose(words.mean(-1), torch.zeros(1, 5), atol=1e-5)
    fusion = EarlyFusion(32, 4, 0.0)
    visual = torch.randn(1, 12, 32)
    with torch.no_grad():
        fusion.cross_attn.out_proj.weight.zero_()
        fusion.cross_attn.out_proj.bias.zero_()
    out = fusion(
        visual,
        torch.randn(1, 12, 32),
        words,
        torch.randn(1, 5, 32),
        torch.zeros(1, 5, dtype=torch.bool),
    )
    assert torch.allclose(out, visual)  # a zero attention answer leaves the tokens unchanged
