"""The frozen text encoders: RoBERTa (word features), CLIP's text tower (sentence embedding).

Both come from `transformers` by hub name or path, or are built randomly initialised from an
architecture dictionary (tests, demos) with `ByteTokenizer`, which needs no vocabulary files.
`open_clip` is an optional second CLIP backend, imported only when asked for.

Their outputs are a `TextFeatures` value: the model's `encode_text` returns one and its forward
takes one, so the outputs can be computed once per sentence and cached (nothing trainable runs
here: the projections of these features belong to the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from mlstrack.config import BYTE_TOKENIZER, MLSTrackConfig
from mlstrack.pretrained import load_pretrained
from uecity.errors import MissingDependencyError


@dataclass(frozen=True)
class TextFeatures:
    """Frozen text-encoder outputs for a batch of sentences.

    word_features: (B, L, C_text) RoBERTa's last hidden states.
    word_padding_mask: (B, L) bool, True on padding.
    sentence_embedding: (B, C_clip) CLIP's projected sentence embedding, or None when the model
        variant does not use CLIP.
    """

    word_features: Tensor
    word_padding_mask: Tensor
    sentence_embedding: Tensor | None = None

    def __post_init__(self) -> None:
        if self.word_features.dim() != 3:
            raise ValueError(
                f"word_features must be (B, L, C), got {tuple(self.word_features.shape)}"
            )
        if self.word_padding_mask.shape != self.word_features.shape[:2]:
            raise ValueError("word_padding_mask must be (B, L) like word_features")
        if self.word_padding_mask.dtype != torch.bool:
            raise ValueError("word_padding_mask must be a bool tensor")
        if (
            self.sentence_embedding is not None
            and self.sentence_embedding.shape[0] != self.word_features.shape[0]
        ):
            raise ValueError("sentence_embedding must have one row per sentence")

    def to(self, device: torch.device | str) -> TextFeatures:
        embedding = self.sentence_embedding
        return TextFeatures(
            self.word_features.to(device),
            self.word_padding_mask.to(device),
            None if embedding is None else embedding.to(device),
        )

    def select(self, index: int) -> TextFeatures:
        """The features of sentence `index` as a batch of one."""
        embedding = self.sentence_embedding
        return TextFeatures(
            self.word_features[index : index + 1],
            self.word_padding_mask[index : index + 1],
            None if embedding is None else embedding[index : index + 1],
        )


class Tokenizer(Protocol):
    def __call__(self, sentences: list[str], max_length: int) -> tuple[Tensor, Tensor]:
        """Token ids (B, L) and attention mask (B, L), 1 on real tokens."""
        ...


class ByteTokenizer:
    """UTF-8 bytes as tokens: pad 0, begin 1, unknown 2, end 3, byte b → b + 4 (vocab 260).

    Used with randomly initialised text encoders only; pretrained ones bring their tokenizer.
    """

    pad_id, bos_id, unk_id, eos_id, offset = 0, 1, 2, 3, 4

    def __call__(self, sentences: list[str], max_length: int) -> tuple[Tensor, Tensor]:
        rows = []
        for sentence in sentences:
            body = [b + self.offset for b in sentence.encode("utf-8")][: max_length - 2]
            rows.append([self.bos_id, *body, self.eos_id])
        length = max(len(row) for row in rows)
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask


class HFTokenizer:
    """A `transformers` tokenizer behind the `Tokenizer` call."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, sentences: list[str], max_length: int) -> tuple[Tensor, Tensor]:
        encoded = self.tokenizer(
            sentences, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return encoded["input_ids"], encoded["attention_mask"]

    def save_pretrained(self, folder: str) -> None:
        self.tokenizer.save_pretrained(folder)


def build_tokenizer(name: str, what: str) -> Tokenizer:
    """`ByteTokenizer` for "byte", else a `transformers` tokenizer by name or path."""
    if name == BYTE_TOKENIZER:
        return ByteTokenizer()
    from transformers import AutoTokenizer

    return HFTokenizer(load_pretrained(AutoTokenizer, name, what))


class FrozenEncoder(nn.Module):
    """Base of the frozen encoders: parameters never train and dropout stays off."""

    def freeze(self) -> None:
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenEncoder:
        return super().train(False)


class RobertaWordEncoder(FrozenEncoder):
    """RoBERTa's last hidden states (B, L, 768 for roberta-base), frozen."""

    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        from transformers import RobertaConfig, RobertaModel

        if config.text_encoder_config is not None:
            self.model = RobertaModel(
                RobertaConfig(**config.text_encoder_config), add_pooling_layer=False
            )
        else:
            self.model = load_pretrained(
                RobertaModel,
                config.text_encoder_name,
                "the RoBERTa text encoder",
                add_pooling_layer=False,
            )
        self.tokenizer = build_tokenizer(
            config.text_tokenizer or config.text_encoder_name, "the RoBERTa tokenizer"
        )
        self.max_length = config.max_text_length
        self.width = int(self.model.config.hidden_size)
        self.freeze()

    @torch.no_grad()
    def forward(self, sentences: list[str]) -> tuple[Tensor, Tensor]:
        """Word features (B, L, C_text) and padding mask (B, L), True on padding."""
        device = next(self.model.parameters()).device
        ids, mask = self.tokenizer(sentences, self.max_length)
        output = self.model(input_ids=ids.to(device), attention_mask=mask.to(device))
        return output.last_hidden_state, mask.to(device) == 0


class ClipSentenceEncoder(FrozenEncoder):
    """CLIP's text tower with its projection (`CLIPTextModelWithProjection`), frozen."""

    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        if config.clip_text_config is not None:
            self.model = CLIPTextModelWithProjection(CLIPTextConfig(**config.clip_text_config))
        else:
            self.model = load_pretrained(
                CLIPTextModelWithProjection, config.clip_text_name, "the CLIP text tower of the SCB"
            )
        self.tokenizer = build_tokenizer(
            config.clip_tokenizer or config.clip_text_name, "the CLIP tokenizer"
        )
        self.max_length = min(
            config.max_text_length * 2, int(self.model.config.max_position_embeddings)
        )
        self.width = int(self.model.config.projection_dim)
        self.freeze()

    @torch.no_grad()
    def forward(self, sentences: list[str]) -> Tensor:
        """Sentence embeddings (B, C_clip)."""
        device = next(self.model.parameters()).device
        ids, mask = self.tokenizer(sentences, self.max_length)
        return self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).text_embeds


def import_open_clip() -> Any:
    """`open_clip`, or a `MissingDependencyError` saying what is missing (it needs torchvision)."""
    try:
        import open_clip
    except Exception as error:  # ImportError, or torchvision failing inside open_clip's import
        raise MissingDependencyError(
            "the open_clip text tower needs `open_clip_torch` and a working `torchvision` "
            f"({error.__class__.__name__}: {error}); install both (`pip install open_clip_torch "
            "torchvision` with the torchvision build matching torch) or keep the default "
            "clip_backend='transformers'"
        ) from error
    return open_clip


class OpenClipSentenceEncoder(FrozenEncoder):
    """CLIP's text tower through `open_clip` (optional backend), frozen."""

    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        open_clip = import_open_clip()
        pretrained = config.open_clip_pretrained or None
        self.model = open_clip.create_model(config.open_clip_model, pretrained=pretrained)
        self.open_clip_tokenizer = open_clip.get_tokenizer(config.open_clip_model)
        self.width = int(self.model.text_projection.shape[-1])
        if hasattr(self.model, "visual"):
            self.model.visual = None  # only the text tower is used
        self.freeze()

    @torch.no_grad()
    def forward(self, sentences: list[str]) -> Tensor:
        device = next(self.model.parameters()).device
        return self.model.encode_text(self.open_clip_tokenizer(sentences).to(device))


def build_clip_encoder(config: MLSTrackConfig) -> FrozenEncoder:
    """The CLIP sentence encoder of the configured backend."""
    if config.clip_backend == "open_clip":
        return OpenClipSentenceEncoder(config)
    return ClipSentenceEncoder(config)
