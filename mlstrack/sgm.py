"""The Semantic Guidance Module (paper §4.2, Fig. 5c): queries perceive the sentence before the
decoder.

Detect and track queries, concatenated, go through self-attention with their positions, a norm
and an FFN (residuals throughout), then cross-attend to the linearly projected words:
Q^s = CrossAttn(Q = Q̂, K = V = Linear(S)). Table 4's variants: "only_det" guides the detect
queries alone (track queries pass unchanged), "only_cross_attention" skips self-attention and
FFN.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlstrack.encoder import FeedForward


class SemanticGuidanceModule(nn.Module):
    def __init__(
        self, d_model: int, n_heads: int, ffn_dim: int, dropout: float, variant: str = "full"
    ) -> None:
        super().__init__()
        self.variant = variant
        if variant != "only_cross_attention":
            self.self_attn = nn.MultiheadAttention(
                d_model, n_heads, dropout=dropout, batch_first=True
            )
            self.dropout1 = nn.Dropout(dropout)
            self.norm1 = nn.LayerNorm(d_model)
            self.ffn = FeedForward(d_model, ffn_dim, dropout)
        self.word_linear = nn.Linear(d_model, d_model)
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(
        self,
        queries: Tensor,
        query_pos: Tensor,
        words: Tensor,
        words_pos: Tensor,
        word_padding_mask: Tensor,
        num_detect: int,
        attn_mask: Tensor | None = None,
    ) -> Tensor:
        """queries, query_pos (B, N, d) with the `num_detect` detect queries first; words and
        words_pos (B, L, d); padding mask (B, L). Returns the prompt-aware queries (B, N, d)."""
        if self.variant == "only_det":
            guided = self._guide(
                queries[:, :num_detect],
                query_pos[:, :num_detect],
                words,
                words_pos,
                word_padding_mask,
                None,
            )
            return torch.cat((guided, queries[:, num_detect:]), dim=1)
        return self._guide(queries, query_pos, words, words_pos, word_padding_mask, attn_mask)

    def _guide(
        self,
        queries: Tensor,
        query_pos: Tensor,
        words: Tensor,
        words_pos: Tensor,
        word_padding_mask: Tensor,
        attn_mask: Tensor | None,
    ) -> Tensor:
        if self.variant != "only_cross_attention":
            q = k = queries + query_pos
            attended, _ = self.self_attn(q, k, queries, attn_mask=attn_mask, need_weights=False)
            queries = self.ffn(self.norm1(queries + self.dropout1(attended)))
        projected = self.word_linear(words)  # S' = Linear(S), (B, L, d)
        attended, _ = self.cross_attn(
            query=queries + query_pos,
            key=projected + words_pos,
            value=projected,
            key_padding_mask=word_padding_mask,
            need_weights=False,
        )
        return self.norm2(queries + self.dropout2(attended))
