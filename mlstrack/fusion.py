"""Early fusion (TransRMOT): word features projected to d_model, then each feature level's
visual tokens cross-attend to the words and add the result (residual), before the encoder.

Adapted from TransRMOT's early fusion (wudongming97/RMOT, models/transrmot.py).
"""

from __future__ import annotations

from torch import Tensor, nn


class WordProjection(nn.Module):
    """RoBERTa's word features (B, L, C_text) → (B, L, d) through Linear, LayerNorm, dropout."""

    def __init__(self, text_width: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(text_width, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, word_features: Tensor) -> Tensor:
        return self.dropout(self.norm(self.linear(word_features)))


class EarlyFusion(nn.Module):
    """Visual tokens attend to the words (8 heads, shared by every level) and add the answer."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        visual: Tensor,
        visual_pos: Tensor,
        words: Tensor,
        words_pos: Tensor,
        word_padding_mask: Tensor,
    ) -> Tensor:
        """visual, visual_pos (B, S_l, d) of one level; words, words_pos (B, L, d);
        word_padding_mask (B, L) True on padding. Returns (B, S_l, d)."""
        attended, _ = self.cross_attn(
            query=visual + visual_pos,
            key=words + words_pos,
            value=words,
            key_padding_mask=word_padding_mask,
            need_weights=False,
        )
        return visual + self.dropout(attended)
