"""The text encoders: frozen RoBERTa (word features) and CLIP text tower (sentence embedding),
or a trainable word-level encoder over the dataset's vocabulary.

RoBERTa and CLIP come from `transformers` by hub name or path, or are built randomly initialised
from an architecture dictionary with `ByteTokenizer`, which needs no vocabulary files. `open_clip`
is an optional second CLIP backend, imported only when asked for. They are the paper's stack
(`paper`); random frozen ones cannot tell sentences apart, so the CPU preset (`tiny`) uses
`WordEncoder` instead: word embeddings over the training sentences' words and a bidirectional
GRU, trained with the model, giving both the word features and the SCB's sentence embedding.

Their outputs are a `TextFeatures` value: the model's `encode_text` returns one and its forward
takes one. For the frozen encoders it holds their outputs, computed once per sentence and
cacheable; for the word encoder it holds the token ids, and the model runs the (trainable)
encoder inside its forward. Nothing is cut silently: a sentence longer than `max_text_length`
tokens is truncated with a logged warning naming it and the counts, and words outside the word
encoder's vocabulary are counted in a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from mlstrack.config import BYTE_TOKENIZER, MLSTrackConfig
from mlstrack.pretrained import load_pretrained
from uecity.core.errors import MissingDependencyError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextFeatures:
    """Frozen text-encoder outputs for a batch of sentences.

    word_features: (B, L, C_text) RoBERTa's last hidden states ((B, L, 0) while `token_ids`
        waits for the trainable word encoder).
    word_padding_mask: (B, L) bool, True on padding.
    sentence_embedding: (B, C_clip) CLIP's projected sentence embedding, or None when the model
        variant does not use CLIP.
    token_ids: (B, L) long word ids for the trainable `WordEncoder`, else None.
    """

    word_features: Tensor
    word_padding_mask: Tensor
    sentence_embedding: Tensor | None = None
    token_ids: Tensor | None = None

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
        embedding, ids = self.sentence_embedding, self.token_ids
        return TextFeatures(
            self.word_features.to(device),
            self.word_padding_mask.to(device),
            None if embedding is None else embedding.to(device),
            None if ids is None else ids.to(device),
        )

    def select(self, index: int) -> TextFeatures:
        """The features of sentence `index` as a batch of one."""
        embedding, ids = self.sentence_embedding, self.token_ids
        return TextFeatures(
            self.word_features[index : index + 1],
            self.word_padding_mask[index : index + 1],
            None if embedding is None else embedding[index : index + 1],
            None if ids is None else ids[index : index + 1],
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
            body = [b + self.offset for b in sentence.encode("utf-8")]
            warn_truncated(sentence, len(body) + 2, max_length)
            rows.append([self.bos_id, *body[: max_length - 2], self.eos_id])
        length = max(len(row) for row in rows)
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask


def warn_truncated(sentence: str, tokens: int, max_length: int) -> None:
    """A logged warning (never a silent cut) when `sentence` has more tokens than kept."""
    if tokens > max_length:
        logger.warning(
            "sentence %r has %d tokens, %d over max_text_length %d: the end is cut off "
            "(raise max_text_length in the model config to keep it)",
            sentence,
            tokens,
            tokens - max_length,
            max_length,
        )


WORD_PATTERN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
WORD_PAD, WORD_UNKNOWN = "<pad>", "<unk>"


def split_words(sentence: str) -> list[str]:
    """Lower-cased words and punctuation marks ("left-to-right" → left, -, to, -, right)."""
    return WORD_PATTERN.findall(sentence.lower())


def word_vocabulary(sentences: list[str]) -> tuple[str, ...]:
    """The sorted distinct words of `sentences`, with both "left" and "right" (a flip swaps
    them)."""
    words = {word for sentence in sentences for word in split_words(sentence)}
    if words & {"left", "right"}:
        words |= {"left", "right"}
    return tuple(sorted(words))


class WordTokenizer:
    """Word ids over a fixed vocabulary: pad 0, unknown 1, the vocabulary's words from 2."""

    def __init__(self, vocabulary: tuple[str, ...] | list[str]) -> None:
        self.words = (WORD_PAD, WORD_UNKNOWN, *vocabulary)
        self.index = {word: i for i, word in enumerate(self.words)}
        self.warned: set[str] = set()  # each sentence's unknown words are reported once

    def __len__(self) -> int:
        return len(self.words)

    def __call__(self, sentences: list[str], max_length: int) -> tuple[Tensor, Tensor]:
        rows = []
        for sentence in sentences:
            words = split_words(sentence)
            unknown = sorted({w for w in words if w not in self.index})
            if unknown and sentence not in self.warned:
                self.warned.add(sentence)
                logger.warning(
                    "sentence %r has %d of %d words outside the model's vocabulary (%s): "
                    "they read as %s",
                    sentence,
                    sum(w not in self.index for w in words),
                    len(words),
                    ", ".join(unknown),
                    WORD_UNKNOWN,
                )
            warn_truncated(sentence, len(words), max_length)
            rows.append([self.index.get(w, 1) for w in words[:max_length]] or [1])
        length = max(len(row) for row in rows)
        ids = torch.zeros((len(rows), length), dtype=torch.long)
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
        for sentence, ids in zip(sentences, self.tokenizer(sentences)["input_ids"], strict=True):
            warn_truncated(sentence, len(ids), max_length)
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


class WordEncoder(nn.Module):
    """The trainable CPU text stack: word embeddings over the dataset's vocabulary and a
    bidirectional GRU (`word_layers` deep) → word features (B, L, word_width); the two final
    states through a Linear → the sentence embedding (B, word_width) the SCB compares queries
    with. The recurrence reads word order, so "left to right" and "right to left", the same
    bag of words, come out apart."""

    def __init__(self, config: MLSTrackConfig) -> None:
        super().__init__()
        if not config.word_vocabulary:  # tokenizing then warns about every word
            logger.info(
                "text_encoder_type 'word' without word_vocabulary: every word reads as %s "
                "(`uecity train` fills it from the training sentences)",
                WORD_UNKNOWN,
            )
        self.tokenizer = WordTokenizer(config.word_vocabulary or ())
        self.max_length = config.max_text_length
        self.width = config.word_width
        self.embedding = nn.Embedding(len(self.tokenizer), self.width, padding_idx=0)
        self.gru = nn.GRU(
            self.width,
            self.width // 2,
            num_layers=config.word_layers,
            batch_first=True,
            bidirectional=True,
        )
        self.sentence_projection = nn.Linear(self.width, self.width)

    def tokenize(self, sentences: list[str]) -> TextFeatures:
        """Token ids for the model's forward (nothing trainable runs here)."""
        ids, mask = self.tokenizer(sentences, self.max_length)
        device = self.embedding.weight.device
        padding = mask.to(device) == 0
        empty = torch.zeros(*ids.shape, 0, device=device)
        return TextFeatures(empty, padding, None, ids.to(device))

    def forward(self, text: TextFeatures) -> TextFeatures:
        """Token ids → word features and sentence embedding (with gradients)."""
        assert text.token_ids is not None
        ids, padding = text.token_ids, text.word_padding_mask
        lengths = (~padding).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(ids), lengths, batch_first=True, enforce_sorted=False
        )
        output, final = self.gru(packed)
        words, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=ids.shape[1]
        )
        both = torch.cat((final[-2], final[-1]), dim=-1)  # last layer, forward | backward
        return TextFeatures(words, padding, self.sentence_projection(both))


def build_clip_encoder(config: MLSTrackConfig) -> FrozenEncoder:
    """The CLIP sentence encoder of the configured backend."""
    if config.clip_backend == "open_clip":
        return OpenClipSentenceEncoder(config)
    return ClipSentenceEncoder(config)
