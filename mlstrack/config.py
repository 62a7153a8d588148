"""The one configuration of MLS-Track: every hyperparameter, its paper default and its checks.

A `MLSTrackConfig` is a frozen value. `MLSTrackConfig.paper()` is the paper's model (§4, §5.1,
TransRMOT's settings), `MLSTrackConfig.tiny()` a few-thousand-parameter version for CPU tests and
demos. The three rows of the paper's Table 3 are the `variant` switch; Table 4's SGM designs are
`sgm_variant`; Table 5a's referring predictors are `scb_variant`.

Each of the three pretrained networks (ResNet-50, RoBERTa, the CLIP text tower) is named by a hub
name or local path (`*_name`) and optionally by an architecture dictionary (`*_config`): with a
dictionary the network is built randomly initialised from it and nothing is downloaded (tests,
demos, and checkpoints, which carry the weights themselves).

The tracker's thresholds are not in here: they are `mlstrack.tracker_config.TrackerConfig`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from mlstrack.errors import ModelConfigError
from mlstrack.tracker_config import TRACKER_FIELDS

Variant = Literal["transrmot", "sgm", "sgm_scb"]
SGMVariant = Literal["full", "only_det", "only_cross_attention"]
SCBVariant = Literal["clip", "roberta", "concat_mlp", "cross_attention"]
TextEncoderType = Literal["roberta", "word"]

VARIANTS: tuple[str, ...] = ("transrmot", "sgm", "sgm_scb")
SGM_VARIANTS: tuple[str, ...] = ("full", "only_det", "only_cross_attention")
SCB_VARIANTS: tuple[str, ...] = ("clip", "roberta", "concat_mlp", "cross_attention")
TEXT_ENCODER_TYPES: tuple[str, ...] = ("roberta", "word")

# The presets, defined once: `uecity model`, `uecity train` and the docs use these names.
Preset = Literal["tiny", "paper", "paper-random"]
PRESETS: dict[str, str] = {
    "tiny": "a few thousand parameters, trainable text stack, random weights (CPU tests, demos)",
    "paper": "the paper's model, pretrained parts loaded by hub name or local path",
    "paper-random": "the paper's architectures with random weights; nothing is downloaded",
}

# The byte-level tokenizer used with randomly initialised text encoders: 4 special ids, then bytes.
BYTE_TOKENIZER = "byte"
BYTE_VOCAB_SIZE = 260


def _without_the_retired_clip_backend(values: dict[str, Any]) -> dict[str, Any]:
    """Configs saved before the open_clip backend was removed name the backend: the default
    (`transformers`) loads as before, an open_clip model is refused with the reason."""
    if values.get("clip_backend", "transformers") != "transformers":
        raise ModelConfigError(
            "this checkpoint's CLIP text tower came from open_clip, which is no longer supported "
            "(it needs torchvision, which our CPU builds lack); the CLIP text tower loads through "
            "transformers (`clip_text_name`)",
            field="clip_backend",
        )
    retired = {"clip_backend", "open_clip_model", "open_clip_pretrained"}
    return {key: value for key, value in values.items() if key not in retired}


def resnet50_architecture() -> dict[str, Any]:
    """ResNet-50's architecture as a `transformers.ResNetConfig` dictionary (no weights)."""
    return {
        "num_channels": 3,
        "embedding_size": 64,
        "hidden_sizes": [256, 512, 1024, 2048],
        "depths": [3, 4, 6, 3],
        "layer_type": "bottleneck",
        "hidden_act": "relu",
        "downsample_in_first_stage": False,
    }


def roberta_base_architecture() -> dict[str, Any]:
    """RoBERTa-base's architecture as a `transformers.RobertaConfig` dictionary (no weights)."""
    return {
        "vocab_size": 50265,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "max_position_embeddings": 514,
        "type_vocab_size": 1,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "layer_norm_eps": 1e-5,
    }


def clip_vit_large_text_architecture() -> dict[str, Any]:
    """CLIP ViT-L/14's text tower as a `transformers.CLIPTextConfig` dictionary (no weights)."""
    return {
        "vocab_size": 49408,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "max_position_embeddings": 77,
        "projection_dim": 768,
        "hidden_act": "quick_gelu",
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 1,
    }


def _tiny_resnet() -> dict[str, Any]:
    return {
        "num_channels": 3,
        "embedding_size": 8,
        "hidden_sizes": [16, 24, 32, 48],
        "depths": [1, 1, 1, 1],
        "layer_type": "bottleneck",
        "hidden_act": "relu",
        "downsample_in_first_stage": False,
    }


def _tiny_roberta() -> dict[str, Any]:
    return {
        "vocab_size": BYTE_VOCAB_SIZE,
        "hidden_size": 24,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 72,
        "type_vocab_size": 1,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 3,
    }


def _tiny_clip_text() -> dict[str, Any]:
    return {
        "vocab_size": BYTE_VOCAB_SIZE,
        "hidden_size": 24,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 72,
        "projection_dim": 16,
        "bos_token_id": 1,
        "eos_token_id": 3,
        "pad_token_id": 0,
    }


@dataclass(frozen=True)
class MLSTrackConfig:
    """Every hyperparameter of MLS-Track. Defaults are the paper's (`MLSTrackConfig.paper()`).

    Architecture
        d_model: width of every token and query (256).
        n_heads: attention heads everywhere: fusion, encoder, decoder, SGM, QIM (8).
        n_levels: feature levels: strides 8/16/32 from ResNet plus one extra stride-64 conv (4).
        n_points: sampling points per head and level in deformable attention (4).
        num_encoder_layers / num_decoder_layers: deformable encoder / decoder depth (6 / 6).
        ffn_dim: hidden width of every feed-forward block (1024).
        dropout: dropout in attention blocks and FFNs (0.1).
        num_queries: detect queries per frame (300).
        num_classes: object classes of the class head; RMOT uses one ("object") (1).
        backbone_trainable_stages: how many of ResNet's last stages train when the backbone is
            pretrained; Deformable-DETR trains stages 2–4 and freezes the stem and stage 1 (3).
        backbone_pretrained: the ResNet starts from pretrained weights (True for `paper`): its
            batch norm is frozen, the first stages too, and it trains at `lr_backbone`. A random
            ResNet (`tiny`, `paper-random`) trains whole at the main lr, its batch norms made
            per-image normalisation (the same in training and eval; `backbone.per_image_norm`).
    Pretrained parts (hub name or local path; `*_config` builds from an architecture instead)
        backbone_name / backbone_config: ResNet-50 ("microsoft/resnet-50").
        text_encoder_name / text_encoder_config: RoBERTa, frozen ("roberta-base").
        text_tokenizer: tokenizer name or path, or "byte" for random-init text encoders
            (None: the text encoder's own).
        clip_text_name / clip_text_config: CLIP text tower of the SCB, frozen
            ("openai/clip-vit-large-patch14").
        clip_tokenizer: as text_tokenizer, for CLIP.
        max_text_length: tokens kept per sentence (32); a longer one is cut with a warning.
    Trainable CPU text stack (`text_encoder_type: word`, the `tiny` preset's)
        text_encoder_type: "roberta" (frozen RoBERTa + CLIP, the paper's) or "word" (a
            trainable word-level encoder that also gives the SCB's sentence embedding).
        word_vocabulary: its words (the trainer fills them from the training sentences).
        word_width / word_layers: its width and bidirectional GRU layers (64 / 1).
    Variants
        variant: Table 3's rows: "transrmot" (no SGM, plain referring head), "sgm",
            "sgm_scb" (MLS-Track, the default).
        sgm_variant: Table 4: "full" (Fig. 5c), "only_det" (track queries bypass the SGM),
            "only_cross_attention" (no self-attention/FFN before the cross-attention).
        sgm_ffn_dim: FFN width inside the SGM (1024).
        scb_variant: Table 5a: "clip" (cosine with CLIP's sentence embedding, the paper's),
            "roberta" (cosine with RoBERTa's mean word feature), "concat_mlp", "cross_attention".
        scb_init_temperature: initial temperature τ of the cosine logits (0.07, as CLIP).
    Training
        track_group_denoising: extra noisy copies of the track queries, training only (3).
        denoising_noise_variance: variance of the Gaussian noise on their embeddings (0.3).
        focal_alpha / focal_gamma: sigmoid focal loss (0.25 / 2).
        cost_class / cost_bbox / cost_giou: Hungarian matching costs (2 / 5 / 2).
        loss_class / loss_bbox / loss_giou / loss_refer: loss weights (2 / 5 / 2 / 2).
        denoising_loss_weight: factor on the denoising groups' losses (1.0).
        aux_loss: losses on every decoder layer (True).
    """

    d_model: int = 256
    n_heads: int = 8
    n_levels: int = 4
    n_points: int = 4
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    ffn_dim: int = 1024
    dropout: float = 0.1
    num_queries: int = 300
    num_classes: int = 1
    backbone_trainable_stages: int = 3
    backbone_pretrained: bool = True

    backbone_name: str = "microsoft/resnet-50"
    backbone_config: dict[str, Any] | None = None
    text_encoder_name: str = "roberta-base"
    text_encoder_config: dict[str, Any] | None = None
    text_tokenizer: str | None = None
    clip_text_name: str = "openai/clip-vit-large-patch14"
    clip_text_config: dict[str, Any] | None = None
    clip_tokenizer: str | None = None
    max_text_length: int = 32
    text_encoder_type: TextEncoderType = "roberta"
    word_vocabulary: tuple[str, ...] | None = None
    word_width: int = 64
    word_layers: int = 1

    variant: Variant = "sgm_scb"
    sgm_variant: SGMVariant = "full"
    sgm_ffn_dim: int = 1024
    scb_variant: SCBVariant = "clip"
    scb_init_temperature: float = 0.07

    track_group_denoising: int = 3
    denoising_noise_variance: float = 0.3
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    cost_class: float = 2.0
    cost_bbox: float = 5.0
    cost_giou: float = 2.0
    loss_class: float = 2.0
    loss_bbox: float = 5.0
    loss_giou: float = 2.0
    loss_refer: float = 2.0
    denoising_loss_weight: float = 1.0
    aux_loss: bool = True

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ModelConfigError(f"expected {expected}, got {getattr(self, name)!r}", field=name)

        for name in (
            "d_model",
            "n_heads",
            "n_levels",
            "n_points",
            "num_encoder_layers",
            "num_decoder_layers",
            "ffn_dim",
            "num_queries",
            "num_classes",
            "sgm_ffn_dim",
            "max_text_length",
            "word_width",
            "word_layers",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(name, "a positive integer")
        if self.d_model % self.n_heads:
            fail("d_model", f"a multiple of n_heads ({self.n_heads})")
        if (self.d_model // self.n_heads) % 2:
            fail("d_model", "d_model / n_heads to be even (sine positions split it in two)")
        if self.d_model % 2 or (self.d_model // 2) % 2:
            fail("d_model", "a multiple of 4 (2D sine positions use d_model/2 per axis)")
        if self.n_levels < 2:
            fail("n_levels", "at least 2 (strides 8/16/32 give 3, more levels add extra convs)")
        if not 0 <= self.backbone_trainable_stages <= 4:
            fail("backbone_trainable_stages", "an integer in 0..4")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", "a probability in [0, 1)")
        if self.variant not in VARIANTS:
            fail("variant", f"one of {', '.join(VARIANTS)}")
        if self.sgm_variant not in SGM_VARIANTS:
            fail("sgm_variant", f"one of {', '.join(SGM_VARIANTS)}")
        if self.scb_variant not in SCB_VARIANTS:
            fail("scb_variant", f"one of {', '.join(SCB_VARIANTS)}")
        if self.text_encoder_type not in TEXT_ENCODER_TYPES:
            fail("text_encoder_type", f"one of {', '.join(TEXT_ENCODER_TYPES)}")
        if self.word_vocabulary is not None:
            if not isinstance(self.word_vocabulary, list | tuple) or not all(
                isinstance(w, str) for w in self.word_vocabulary
            ):
                fail("word_vocabulary", "a list of words or null")
            object.__setattr__(self, "word_vocabulary", tuple(self.word_vocabulary))
        if self.word_width % 2:
            fail("word_width", "an even width (two GRU directions)")
        if self.variant == "transrmot" and self.sgm_variant != "full":
            fail("sgm_variant", "'full' with variant 'transrmot' (it has no SGM to vary)")
        if self.variant != "sgm_scb" and self.scb_variant != "clip":
            fail("scb_variant", f"'clip' with variant {self.variant!r} (it has no SCB to vary)")
        if not 0.0 <= self.focal_alpha <= 1.0:
            fail("focal_alpha", "a probability in [0, 1]")
        if self.track_group_denoising < 0:
            fail("track_group_denoising", "a group count >= 0")
        if self.denoising_noise_variance < 0:
            fail("denoising_noise_variance", "a variance >= 0")
        if not 0.0 < self.scb_init_temperature < 1.0:
            fail("scb_init_temperature", "a temperature in (0, 1)")
        for name in (
            "focal_gamma",
            "cost_class",
            "cost_bbox",
            "cost_giou",
            "loss_class",
            "loss_bbox",
            "loss_giou",
            "loss_refer",
            "denoising_loss_weight",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or math.isnan(value):
                fail(name, "a non-negative number")
        for name in ("backbone_config", "text_encoder_config", "clip_text_config"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                fail(name, "an architecture dictionary or null")

    # --- derived switches -----------------------------------------------------------------
    @property
    def use_sgm(self) -> bool:
        """Whether the Semantic Guidance Module runs (Table 3 rows 2 and 3)."""
        return self.variant in ("sgm", "sgm_scb")

    @property
    def use_scb(self) -> bool:
        """Whether the Semantic Correlation Branch replaces the plain referring head."""
        return self.variant == "sgm_scb"

    @property
    def needs_clip(self) -> bool:
        """Whether the SCB variant needs a sentence embedding (CLIP's, or the word encoder's)."""
        return self.use_scb and self.scb_variant in ("clip", "concat_mlp")

    @property
    def trainable_text(self) -> bool:
        """Whether the text encoder trains with the model (the word encoder)."""
        return self.text_encoder_type == "word"

    # --- presets and (de)serialisation -----------------------------------------------------
    @classmethod
    def paper(cls, *, random_init: bool = False, **overrides: Any) -> MLSTrackConfig:
        """The paper's configuration. `random_init` builds the real architectures without weights
        (no download), for parameter counts and smoke runs."""
        if random_init:
            overrides = {
                "backbone_config": resnet50_architecture(),
                "text_encoder_config": roberta_base_architecture(),
                "clip_text_config": clip_vit_large_text_architecture(),
                "text_tokenizer": BYTE_TOKENIZER,
                "clip_tokenizer": BYTE_TOKENIZER,
                "backbone_pretrained": False,
                **overrides,
            }
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides: Any) -> MLSTrackConfig:
        """A tiny randomly initialised model for CPU tests and demos: nothing is downloaded."""
        values: dict[str, Any] = {
            "d_model": 32,
            "n_heads": 4,
            "n_levels": 4,
            "n_points": 2,
            "num_encoder_layers": 1,
            "num_decoder_layers": 2,
            "ffn_dim": 64,
            "sgm_ffn_dim": 64,
            "dropout": 0.0,
            "num_queries": 12,
            "max_text_length": 24,
            "backbone_config": _tiny_resnet(),
            "text_encoder_config": _tiny_roberta(),
            "clip_text_config": _tiny_clip_text(),
            "text_tokenizer": BYTE_TOKENIZER,
            "clip_tokenizer": BYTE_TOKENIZER,
            "backbone_pretrained": False,
            "text_encoder_type": "word",
            "word_width": 32,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> MLSTrackConfig:
        """The config of preset `name` (see `PRESETS`) with `overrides` (MLSTrackConfig fields;
        an unknown one is an error naming it)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ModelConfigError(
                f"unknown config field(s): {', '.join(unknown)}" + _tracker_hint(unknown),
                field=unknown[0],
            )
        if name == "tiny":
            return cls.tiny(**overrides)
        if name == "paper":
            return cls.paper(**overrides)
        if name == "paper-random":
            return cls.paper(random_init=True, **overrides)
        raise ModelConfigError(
            f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}", field="preset"
        )

    def replace(self, **changes: Any) -> MLSTrackConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of every field."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MLSTrackConfig:
        """Builds a config from `to_dict`'s output; unknown keys are an error naming them."""
        if not isinstance(values, dict):
            raise ModelConfigError("expected a JSON object of MLS-Track config fields")
        values = _without_the_retired_clip_backend(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelConfigError(
                f"unknown config field(s): {', '.join(unknown)}" + _tracker_hint(unknown)
            )
        try:
            return cls(**values)
        except TypeError as error:
            raise ModelConfigError(f"bad config: {error}") from None


def _tracker_hint(unknown: list[str]) -> str:
    if set(TRACKER_FIELDS) & set(unknown):
        return " (tracker thresholds belong to the tracker config: the train config's `tracker:`)"
    return ""
