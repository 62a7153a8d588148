"""MLS-Track, one frame at a time: image + sentence features + track state → predictions.

Recipe of `MLSTrack.forward` (paper Fig. 4):
backbone pyramid → early fusion with the words → deformable encoder → queries (detect queries,
the track state's track queries, in training their noisy denoising groups) → Semantic Guidance
Module → deformable decoder with box refinement → class, box and referring heads per layer.
Turning predictions into the next frame's track state is the caller's job (`tracker.py` at
inference, `criterion.py`'s assignment in training) through `advance_tracks`.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import Tensor, nn

from mlstrack.backbone import Backbone
from mlstrack.config import MLSTrackConfig
from mlstrack.decoder import DecoderLayer, DeformableDecoder
from mlstrack.encoder import DeformableEncoder, EncoderLayer
from mlstrack.fusion import EarlyFusion, WordProjection
from mlstrack.position_encoding import sine_position_1d, sine_position_2d
from mlstrack.query_interaction import QueryInteraction
from mlstrack.scb import build_referring_head
from mlstrack.sgm import SemanticGuidanceModule
from mlstrack.text_encoders import (
    FrozenEncoder,
    RobertaWordEncoder,
    TextFeatures,
    WordEncoder,
    build_clip_encoder,
)
from mlstrack.track_state import TrackState

INITIAL_BOX_SIZE_LOGIT = -2.0  # Deformable-DETR's initial box-size bias
Outputs = dict  # "pred_logits", "pred_boxes", "pred_refers", "hidden", "query_pos", ...


class MLSTrack(nn.Module):
    """The model. Images are (1, 3, H, W) RGB floats in [0, 1]; one video per call (the paper
    trains with batch size 1 and a video's track queries are its own)."""

    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.backbone = Backbone(config)
        self.text_encoder: RobertaWordEncoder | WordEncoder = (
            WordEncoder(config) if config.trainable_text else RobertaWordEncoder(config)
        )
        self.clip_encoder: FrozenEncoder | None = (
            build_clip_encoder(config) if config.needs_clip and not config.trainable_text else None
        )
        self.word_projection = WordProjection(self.text_encoder.width, d, config.dropout)
        self.level_embed = nn.Parameter(torch.empty(config.n_levels, d))
        nn.init.normal_(self.level_embed)
        self.fusion = EarlyFusion(d, config.n_heads, config.dropout)
        self.encoder = DeformableEncoder(
            EncoderLayer(
                d, config.ffn_dim, config.dropout, config.n_levels, config.n_heads, config.n_points
            ),
            config.num_encoder_layers,
        )
        self.query_embed = nn.Embedding(config.num_queries, 2 * d)  # position | content
        # A detect query's initial box: centre from its position embedding, size starting at
        # sigmoid(-2) ≈ 0.12 of the image, Deformable-DETR's `bbox_embed[0]` bias[2:] = -2 (its
        # first layer refines 2-d points into boxes of that size; we keep 4-d reference boxes
        # so that track queries, which carry their box, and detect queries sample alike).
        self.reference_box = nn.Linear(d, 4)
        nn.init.xavier_uniform_(self.reference_box.weight)
        nn.init.zeros_(self.reference_box.bias)
        nn.init.constant_(self.reference_box.bias[2:], INITIAL_BOX_SIZE_LOGIT)
        self.sgm = (
            SemanticGuidanceModule(
                d, config.n_heads, config.sgm_ffn_dim, config.dropout, config.sgm_variant
            )
            if config.use_sgm
            else None
        )
        self.decoder = DeformableDecoder(
            DecoderLayer(
                d, config.ffn_dim, config.dropout, config.n_levels, config.n_heads, config.n_points
            ),
            config.num_decoder_layers,
            d,
        )
        prior_bias = -math.log((1 - 0.01) / 0.01)  # focal-loss prior: start at p = 0.01
        self.class_embed = nn.ModuleList()
        for _ in range(config.num_decoder_layers):
            head = nn.Linear(d, config.num_classes)
            nn.init.constant_(head.bias, prior_bias)
            self.class_embed.append(head)
        clip_width = self.clip_encoder.width if self.clip_encoder is not None else None
        if config.trainable_text:
            clip_width = self.text_encoder.width  # the word encoder's sentence embedding
        # The SCB is one branch on top of the decoder, shared by every layer; TransRMOT's plain
        # head is one Linear per layer like the class and box heads.
        referring_layers = 1 if config.use_scb else config.num_decoder_layers
        self.referring_heads = nn.ModuleList(
            build_referring_head(config, self.text_encoder.width, clip_width)
            for _ in range(referring_layers)
        )
        if not config.use_scb:
            for head in self.referring_heads:
                nn.init.constant_(head.linear.bias, prior_bias)
        self.query_interaction = QueryInteraction(d, config.n_heads, config.ffn_dim, config.dropout)

    # --- text -----------------------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, sentences: list[str]) -> TextFeatures:
        """The frozen encoders' outputs for `sentences` (the word encoder's token ids);
        cacheable per sentence."""
        if not sentences:
            raise ValueError("encode_text needs at least one sentence")
        if isinstance(self.text_encoder, WordEncoder):
            return self.text_encoder.tokenize(list(sentences))
        words, padding = self.text_encoder(list(sentences))
        embedding = self.clip_encoder(list(sentences)) if self.clip_encoder is not None else None
        return TextFeatures(words, padding, embedding)

    # --- one frame ------------------------------------------------------------------------
    def visual_features(self, images: Tensor) -> list[Tensor]:
        """The sentence-independent part of a frame: the backbone pyramid, `n_levels` maps
        (1, d, h_l, w_l). Tracking several expressions of a video computes it once per frame
        and passes it to `forward` as `features`."""
        return self.backbone(images)

    def forward(
        self,
        images: Tensor,
        text: TextFeatures,
        track: TrackState | None = None,
        features: list[Tensor] | None = None,
    ) -> Outputs:
        """Predictions for one frame (`features`: this frame's `visual_features`, if already
        computed).

        Returns a dict: "pred_logits" (1, N, C), "pred_boxes" (1, N, 4) cxcywh, "pred_refers"
        (1, N, 1) logits, "hidden" (1, N, d) of the last layer, the queries' inputs "query_pos"
        and "query_feat" (1, N, d, the content before the SGM), "num_detect",
        "num_track" (N = num_detect + num_track, detect queries first, track queries in the
        track state's order), "aux_outputs" (earlier layers) and "denoising" (one dict per
        denoising group, training only).
        """
        config = self.config
        if images.dim() != 4 or images.shape[0] != 1 or images.shape[1] != 3:
            raise ValueError(f"images must be (1, 3, H, W), got {tuple(images.shape)}")
        if text.word_features.shape[0] != 1:
            raise ValueError("text must hold exactly one sentence (TextFeatures.select(i))")
        if text.token_ids is not None:
            assert isinstance(self.text_encoder, WordEncoder)
            text = self.text_encoder(text)
        if self.config.needs_clip and text.sentence_embedding is None:
            raise ValueError("this variant needs TextFeatures.sentence_embedding (CLIP's)")
        device = images.device
        d = config.d_model
        if track is None:
            track = TrackState.empty(d, device)

        # Pyramid, flattened per level, fused with the words.
        words = self.word_projection(text.word_features)  # (1, L, d)
        words_pos = sine_position_1d(words.shape[1], d, device)[None]  # (1, L, d)
        sources, positions, spatial_shapes = [], [], []
        pyramid = features if features is not None else self.visual_features(images)
        for level, feature in enumerate(pyramid):
            _, _, height, width = feature.shape
            spatial_shapes.append((height, width))
            pos = (
                sine_position_2d(height, width, d, device) + self.level_embed[level, :, None, None]
            )
            tokens = feature.flatten(2).transpose(1, 2)  # (1, d, h, w) -> (1, h·w, d)
            pos = pos.flatten(1).transpose(0, 1)[None]  # (d, h, w) -> (1, h·w, d)
            tokens = self.fusion(tokens, pos, words, words_pos, text.word_padding_mask)
            sources.append(tokens)
            positions.append(pos)
        memory = self.encoder(torch.cat(sources, 1), torch.cat(positions, 1), spatial_shapes)

        # Queries: detect, track, denoising groups of the track queries (training only).
        det_pos, det_tgt = self.query_embed.weight.split(d, dim=1)  # (Nd, d) each
        det_boxes = self.reference_box(det_pos).sigmoid()  # (Nd, 4)
        num_detect, num_track = det_pos.shape[0], len(track)
        groups = config.track_group_denoising if self.training and num_track else 0
        query_pos = [det_pos, track.query_pos]
        query_tgt = [det_tgt, track.query_feat]
        boxes = [det_boxes, track.boxes_cxcywh]
        std = math.sqrt(config.denoising_noise_variance)
        for _ in range(groups):
            query_pos.append(track.query_pos)
            query_tgt.append(track.query_feat + std * torch.randn_like(track.query_feat))
            boxes.append(track.boxes_cxcywh)
        query_pos_all = torch.cat(query_pos)[None]  # (1, N_all, d)
        tgt = torch.cat(query_tgt)[None]  # (1, N_all, d)
        query_feat = tgt[:, : num_detect + num_track]  # the queries' input content (QIM residual)
        reference = torch.cat(boxes)[None]  # (1, N_all, 4)
        attn_mask = self._group_mask(num_detect + num_track, num_track, groups, device)

        if self.sgm is not None:
            tgt = self.sgm(
                tgt, query_pos_all, words, words_pos, text.word_padding_mask, num_detect, attn_mask
            )
        hidden_states, layer_boxes = self.decoder(
            tgt, query_pos_all, reference, memory, spatial_shapes, attn_mask
        )

        per_layer = []
        for layer, (hidden, layer_box) in enumerate(zip(hidden_states, layer_boxes, strict=True)):
            head = self.referring_heads[min(layer, len(self.referring_heads) - 1)]
            per_layer.append(
                {
                    "pred_logits": self.class_embed[layer](hidden),
                    "pred_boxes": layer_box,
                    "pred_refers": head(hidden, text, words),
                    "hidden": hidden,
                }
            )
        num_main = num_detect + num_track

        def main(prediction: dict) -> dict:
            out = {key: value[:, :num_main] for key, value in prediction.items()}
            out.update(num_detect=num_detect, num_track=num_track)
            return out

        outputs = main(per_layer[-1])
        outputs["query_pos"] = query_pos_all[:, :num_main]
        outputs["query_feat"] = query_feat
        outputs["aux_outputs"] = [main(p) for p in per_layer[:-1]] if config.aux_loss else []
        outputs["denoising"] = [
            {
                key: value[:, num_main + g * num_track : num_main + (g + 1) * num_track]
                for key, value in per_layer[-1].items()
                if key != "hidden"
            }
            for g in range(groups)
        ]
        return outputs

    @staticmethod
    def _group_mask(
        num_main: int, num_track: int, groups: int, device: torch.device
    ) -> Tensor | None:
        """(N_all, N_all) bool, True where attention is blocked: the main queries and each
        denoising group only see themselves, so the groups cannot leak into the real answer."""
        if groups == 0:
            return None
        sizes = [num_main] + [num_track] * groups
        block = torch.repeat_interleave(
            torch.arange(len(sizes), device=device), torch.tensor(sizes, device=device)
        )  # (N_all,)
        return block[:, None] != block[None, :]


def build_model(config: MLSTrackConfig) -> MLSTrack:
    """The model of `config` (pretrained parts loaded, or random from architecture configs)."""
    return MLSTrack(config)


COMPONENTS: dict[str, tuple[str, ...]] = {
    "backbone (ResNet-50)": ("backbone.resnet",),
    "input projections": ("backbone.input_proj", "level_embed"),
    "text encoder": ("text_encoder",),  # RoBERTa (frozen) or the word encoder (trainable)
    "CLIP text tower": ("clip_encoder",),
    "word projection + early fusion": ("word_projection", "fusion"),
    "deformable encoder": ("encoder",),
    "queries": ("query_embed", "reference_box"),
    "SGM": ("sgm",),
    "deformable decoder + box heads": ("decoder",),
    "class heads": ("class_embed",),
    "referring heads / SCB": ("referring_heads",),
    "query interaction (QIM)": ("query_interaction",),
}


def parameter_summary(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Per component (see `COMPONENTS`): (trainable, frozen) parameter counts."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, parameter in model.named_parameters():
        component = next(
            (
                label
                for label, prefixes in COMPONENTS.items()
                if any(name == p or name.startswith(p + ".") for p in prefixes)
            ),
            "other",
        )
        counts[component][0 if parameter.requires_grad else 1] += parameter.numel()
    return {label: (value[0], value[1]) for label, value in counts.items()}


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
