"""Referring heads: the Semantic Correlation Branch (paper §4.3) and the alternatives it was
compared with (Table 5a), plus TransRMOT's plain referring head.

Every head maps decoder embeddings (B, N, d) to referring logits (B, N, 1); the referring score
is their sigmoid, compared with β_ref at inference.

- `ContrastiveReferringHead` (the SCB, "clip" and "roberta"): D̂ = Linear(D), cosine similarity
  with the sentence embedding (CLIP's, or RoBERTa's mean word feature), logit = cos / τ + b with
  a learned temperature τ and bias b (cosine alone lives in [-1, 1], too narrow for a sigmoid).
- `ConcatMLPReferringHead` (Fig. 6a): [D; Linear(sentence)] → MLP.
- `CrossAttentionReferringHead` (Fig. 6b): D cross-attends to the words, then Linear.
- `PlainReferringHead` (TransRMOT): Linear(D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlstrack.config import MLSTrackConfig
from mlstrack.decoder import MLP
from mlstrack.text_encoders import TextFeatures


def mean_word_feature(text: TextFeatures) -> Tensor:
    """(B, C_text) mean of the unpadded word features: RoBERTa's sentence vector."""
    keep = (~text.word_padding_mask).to(text.word_features.dtype)[..., None]  # (B, L, 1)
    return (text.word_features * keep).sum(1) / keep.sum(1).clamp(min=1.0)


class PlainReferringHead(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, 1)

    def forward(self, hidden: Tensor, text: TextFeatures, words: Tensor) -> Tensor:
        return self.linear(hidden)


class ContrastiveReferringHead(nn.Module):
    """cos(Linear(D), sentence) / τ + b; `source` picks CLIP's or RoBERTa's sentence vector."""

    def __init__(
        self, d_model: int, text_width: int, init_temperature: float, source: str = "clip"
    ) -> None:
        super().__init__()
        self.source = source
        self.projection = nn.Linear(d_model, text_width)
        self.log_inverse_temperature = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, hidden: Tensor, text: TextFeatures, words: Tensor) -> Tensor:
        sentence = self._sentence(text)  # (B, C)
        visual = F.normalize(self.projection(hidden), dim=-1)  # (B, N, C)
        sentence = F.normalize(sentence, dim=-1)[:, :, None]  # (B, C, 1)
        cosine = torch.bmm(visual, sentence)  # (B, N, 1)
        return cosine * self.log_inverse_temperature.exp() + self.bias

    def _sentence(self, text: TextFeatures) -> Tensor:
        if self.source == "roberta":
            return mean_word_feature(text)
        if text.sentence_embedding is None:
            raise ValueError("the SCB needs TextFeatures.sentence_embedding (CLIP's)")
        return text.sentence_embedding


class ConcatMLPReferringHead(nn.Module):
    def __init__(self, d_model: int, text_width: int) -> None:
        super().__init__()
        self.text_projection = nn.Linear(text_width, d_model)
        self.mlp = MLP(2 * d_model, d_model, 1, 3)

    def forward(self, hidden: Tensor, text: TextFeatures, words: Tensor) -> Tensor:
        if text.sentence_embedding is None:
            raise ValueError("the concat+MLP head needs TextFeatures.sentence_embedding")
        sentence = self.text_projection(text.sentence_embedding)  # (B, d)
        sentence = sentence[:, None, :].expand(-1, hidden.shape[1], -1)  # (B, N, d)
        return self.mlp(torch.cat((hidden, sentence), dim=-1))


class CrossAttentionReferringHead(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.linear = nn.Linear(d_model, 1)

    def forward(self, hidden: Tensor, text: TextFeatures, words: Tensor) -> Tensor:
        attended, _ = self.cross_attn(
            hidden, words, words, key_padding_mask=text.word_padding_mask, need_weights=False
        )
        return self.linear(self.norm(hidden + attended))


def build_referring_head(
    config: MLSTrackConfig, text_width: int, clip_width: int | None
) -> nn.Module:
    """The referring head of the configured variant."""
    d = config.d_model
    if not config.use_scb:
        return PlainReferringHead(d)
    if config.scb_variant == "clip":
        assert clip_width is not None
        return ContrastiveReferringHead(d, clip_width, config.scb_init_temperature, "clip")
    if config.scb_variant == "roberta":
        return ContrastiveReferringHead(d, text_width, config.scb_init_temperature, "roberta")
    if config.scb_variant == "concat_mlp":
        assert clip_width is not None
        return ConcatMLPReferringHead(d, clip_width)
    return CrossAttentionReferringHead(d, config.n_heads, config.dropout)
