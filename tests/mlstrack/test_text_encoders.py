from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.text_encoders import (
    ByteTokenizer,
    ClipSentenceEncoder,
    RobertaWordEncoder,
    TextFeatures,
    WordEncoder,
    WordTokenizer,
    build_tokenizer,
    word_vocabulary,
)
from uecity.core.errors import ExternalToolError


def test_byte_tokenizer_pads_and_truncates() -> None:
    ids, mask = ByteTokenizer()(["ab", "a much longer sentence"], max_length=6)
    assert ids.shape == mask.shape == (2, 6)
    assert ids[0].tolist() == [1, ord("a") + 4, ord("b") + 4, 3, 0, 0]
    assert mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    assert ids[1, -1].item() == 3 and mask[1].all()


def test_roberta_words_shape_and_frozen(tiny_config: MLSTrackConfig) -> None:
    encoder = RobertaWordEncoder(tiny_config)
    words, padding = encoder(["red car", "the pedestrian crossing the road"])
    assert words.shape[:2] == padding.shape and words.shape[-1] == 24
    assert padding.dtype == torch.bool and padding[0].any() and not padding[1].any()
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.training


def test_clip_sentence_embedding(tiny_config: MLSTrackConfig) -> None:
    encoder = ClipSentenceEncoder(tiny_config)
    embedding = encoder(["red car", "blue bus"])
    assert embedding.shape == (2, 16) and embedding.dtype == torch.float32
    assert not any(p.requires_grad for p in encoder.parameters())


def test_text_features_validate_and_select() -> None:
    features = TextFeatures(
        torch.zeros(2, 4, 8), torch.zeros(2, 4, dtype=torch.bool), torch.zeros(2, 5)
    )
    one = features.select(1)
    assert one.word_features.shape == (1, 4, 8) and one.sentence_embedding.shape == (1, 5)
    with pytest.raises(ValueError, match="bool"):
        TextFeatures(torch.zeros(2, 4, 8), torch.zeros(2, 4))


def test_hub_name_offline_gives_how_to_provide_message() -> None:
    config = MLSTrackConfig.paper()
    with pytest.raises(ExternalToolError) as info:
        RobertaWordEncoder(config)
    message = str(info.value)
    assert "roberta-base" in message and "HF_HUB_OFFLINE" in message
    assert "local-dir" in message and "tiny" in message


def test_missing_local_path_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ExternalToolError, match="not a folder of pretrained weights"):
        build_tokenizer(str(tmp_path / "nowhere"), "the RoBERTa tokenizer")


def test_word_tokenizer_keeps_every_word_and_counts_the_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vocabulary = word_vocabulary(
        ["cars turning left or vans", "pedestrians crossing left-to-right"]
    )
    assert "right" in vocabulary and "-" in vocabulary  # a flip makes "right" out of "left"
    tokenizer = WordTokenizer(vocabulary)
    ids, mask = tokenizer(["cars turning left or vans", "cars turning left or suvs"], 24)
    assert mask.sum(1).tolist() == [5, 5]
    assert ids[0, -1] != ids[1, -1]  # the last word is kept, not cut
    assert ids[1, -1] == 1  # "suvs" is unknown, and said so
    assert "1 of 5 words outside the model's vocabulary (suvs)" in caplog.text


def test_long_sentences_are_never_cut_silently(caplog: pytest.LogCaptureFixture) -> None:
    long = "the red car " * 12
    ids, _ = ByteTokenizer()([long], 24)
    assert ids.shape[1] == 24
    assert "over max_text_length 24" in caplog.text
    caplog.clear()
    WordTokenizer(("the", "red", "car"))([long], 32)
    assert "36 tokens, 4 over max_text_length 32" in caplog.text


def test_the_word_encoder_trains_and_tells_directions_apart() -> None:
    torch.manual_seed(0)
    config = MLSTrackConfig.tiny(word_vocabulary=word_vocabulary(["crossing left to right"]))
    encoder = WordEncoder(config)
    a = encoder(encoder.tokenize(["crossing left to right"]))
    b = encoder(encoder.tokenize(["crossing right to left"]))
    assert a.word_features.shape == (1, 4, config.word_width)
    assert a.sentence_embedding is not None and b.sentence_embedding is not None
    cosine = torch.nn.functional.cosine_similarity(a.sentence_embedding, b.sentence_embedding)
    assert cosine.item() < 0.9  # the random frozen byte encoder gave 0.96
    a.sentence_embedding.sum().backward()
    assert encoder.embedding.weight.grad is not None


def test_the_trainer_fills_the_vocabulary_from_the_training_sentences(tmp_path: Path) -> None:
    from mlstrack.data.refer_kitti import ReferKittiIndex
    from mlstrack.training import TrainConfig
    from mlstrack.training.trainer import model_config
    from tests.mlstrack.refer_kitti_tree import write_tree

    index = ReferKittiIndex.open(write_tree(tmp_path / "rk"))
    config = model_config(TrainConfig(), index)
    sentences = [e.sentence for v in index.train_videos for e in index.expressions[v]]
    assert config.word_vocabulary == word_vocabulary(sentences)
    assert config.word_vocabulary
