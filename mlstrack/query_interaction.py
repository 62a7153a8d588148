"""The query interaction module (MOTR's QIM): turns this frame's kept queries into next frame's
track queries.

The kept decoder embeddings attend to each other (with their positions), go through an FFN, and
then update two things separately: the position embedding (residual MLP + norm) and the content
feature (residual MLP + norm). Both residuals are taken on the query that entered this frame
(its position and content), not on the decoder output, as MOTR's / TransRMOT's
`QueryInteractionModule._update_track_embedding` does. `advance_tracks` applies it to the
queries the caller decided to keep (the tracker at inference, the identity assignment in
training) and returns a new `TrackState`.

Adapted from MOTR's `QueryInteractionModule` (megvii-research/MOTR, models/qim.py) as TransRMOT
uses it (wudongming97/RMOT, models/qim.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlstrack.encoder import FeedForward
from mlstrack.track_state import TrackState


class QueryInteraction(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_dim, dropout)
        self.pos_update = nn.Sequential(
            nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, d_model)
        )
        self.pos_norm = nn.LayerNorm(d_model)
        self.feat_update = nn.Sequential(
            nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, d_model)
        )
        self.feat_norm = nn.LayerNorm(d_model)

    def forward(
        self, embeddings: Tensor, query_pos: Tensor, query_feat: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Decoder outputs `embeddings` and the input queries' `query_pos` and `query_feat`,
        each (K, d) → next (query_pos, query_feat), each (K, d)."""
        if embeddings.shape[0] == 0:
            return query_pos, query_feat
        x = embeddings[None]  # (1, K, d)
        q = k = x + query_pos[None]
        attended, _ = self.self_attn(q, k, x, need_weights=False)
        x = self.ffn(self.norm(x + self.dropout(attended)))[0]  # (K, d)
        next_pos = self.pos_norm(query_pos + self.pos_update(x))
        next_feat = self.feat_norm(query_feat + self.feat_update(x))
        return next_pos, next_feat


def advance_tracks(
    qim: QueryInteraction,
    outputs: dict,
    keep: Tensor,
    ids: Tensor,
    misses: Tensor,
    next_id: int,
) -> TrackState:
    """The next frame's `TrackState` from this frame's main queries at `keep` (K,) long, which
    carry identities `ids` (K,) and miss counts `misses` (K,).

    Query features keep their autograd graph (MOTR trains through a clip's frames); boxes are
    detached since they only serve as reference boxes.
    """
    hidden = outputs["hidden"][0, keep]  # (K, d)
    query_pos = outputs["query_pos"][0, keep]  # (K, d)
    next_pos, next_feat = qim(hidden, query_pos, outputs["query_feat"][0, keep])
    return TrackState(
        query_pos=next_pos,
        query_feat=next_feat,
        boxes_cxcywh=outputs["pred_boxes"][0, keep].detach(),
        ids=ids.to(torch.long),
        scores=outputs["pred_logits"][0, keep].sigmoid().max(-1).values.detach(),
        refer_scores=outputs["pred_refers"][0, keep, 0].sigmoid().detach(),
        misses=misses.to(torch.long),
        next_id=next_id,
    )
