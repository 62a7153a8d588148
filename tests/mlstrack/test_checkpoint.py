from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mlstrack.checkpoint import (
    WEIGHTS_NAME,
    CheckpointError,
    from_pretrained,
    init_from_deformable_detr,
    load_config,
    save_pretrained,
)
from mlstrack.config import MLSTrackConfig
from mlstrack.encoder import encoder_reference_points
from mlstrack.model import MLSTrack
from tests.mlstrack.test_deformable_attention import transformers_shape_arguments
from uecity.core.errors import ExternalToolError, UECityError


def test_save_load_round_trip(tmp_path: Path, image: torch.Tensor) -> None:
    torch.manual_seed(0)
    config = MLSTrackConfig.tiny(variant="sgm", sgm_variant="only_cross_attention")
    model = MLSTrack(config).eval()
    save_pretrained(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = from_pretrained(tmp_path / "ckpt").eval()

    # the saved config records each pretrained part's full architecture
    def plain(c: MLSTrackConfig) -> dict:
        return {k: v for k, v in c.to_dict().items() if not k.endswith("_config")}

    assert plain(loaded.config) == plain(config)
    assert loaded.config.backbone_config["hidden_sizes"] == config.backbone_config["hidden_sizes"]
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    text = model.encode_text(["a red car"])
    assert torch.equal(model(image, text)["pred_boxes"], loaded(image, text)["pred_boxes"])


def test_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        from_pretrained(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"missing config\.json"):
        from_pretrained(tmp_path)


def test_corrupt_files_are_clear_errors(tmp_path: Path) -> None:
    model = MLSTrack(MLSTrackConfig.tiny())
    save_pretrained(model, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="malformed JSON"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps({"format": "mlstrack", "config": {"d_model": 30}})
    )
    with pytest.raises(UECityError, match="d_model"):
        load_config(tmp_path)


def test_weights_of_another_config_are_refused(tmp_path: Path) -> None:
    save_pretrained(MLSTrack(MLSTrackConfig.tiny()), tmp_path)
    payload = json.loads((tmp_path / "config.json").read_text())
    payload["config"]["variant"] = "transrmot"
    (tmp_path / "config.json").write_text(json.dumps(payload))
    with pytest.raises(CheckpointError, match="do not fit the config"):
        from_pretrained(tmp_path)


def _tiny_deformable_detr(config: MLSTrackConfig) -> torch.nn.Module:
    """A randomly initialised transformers Deformable-DETR shaped like the tiny MLS-Track."""
    from transformers import DeformableDetrConfig, DeformableDetrForObjectDetection, ResNetConfig

    torch.manual_seed(0)
    source_config = DeformableDetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=ResNetConfig(
            **config.backbone_config, out_features=["stage2", "stage3", "stage4"]
        ),
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_queries=12,
        encoder_n_points=2,
        decoder_n_points=2,
        with_box_refine=True,
        num_labels=91,
    )
    return DeformableDetrForObjectDetection(source_config)


def test_init_from_a_transformers_deformable_detr() -> None:
    config = MLSTrackConfig.tiny(backbone_pretrained=True)  # COCO weights: a pretrained ResNet
    source = _tiny_deformable_detr(config).state_dict()
    model = MLSTrack(config)
    report = init_from_deformable_detr(model, source)
    ours = model.state_dict()
    assert report.absent_in_source == []
    assert len(report.loaded) > 150
    assert torch.equal(
        ours["encoder.layers.0.self_attn.value_proj.weight"],
        source["model.encoder.layers.0.self_attn.value_proj.weight"],
    )
    assert torch.equal(
        ours["decoder.layers.1.self_attn.in_proj_weight"][32:64],
        source["model.decoder.layers.1.self_attn.k_proj.weight"],
    )
    assert torch.equal(
        ours["backbone.resnet.encoder.stages.3.layers.0.layer.1.convolution.weight"],
        source["model.backbone.model.encoder.stages.3.layers.0.layer.1.convolution.weight"],
    )
    mismatched = {line.split(":")[0] for line in report.shape_mismatch}
    assert mismatched == {
        "class_embed.0.weight",
        "class_embed.0.bias",
        "class_embed.1.weight",
        "class_embed.1.bias",
        "reference_box.weight",
        "reference_box.bias",
    }
    assert any(key.startswith("sgm.") for key in report.not_mapped)
    assert all(key.startswith("model.decoder.bbox_embed.") for key in report.unused_source)
    assert "tensors loaded" in report.summary()


def test_transformers_layers_and_ours_compute_the_same_after_init() -> None:
    """The key map is right in meaning, not only in shapes: after `init_from_deformable_detr`
    one encoder layer and one decoder layer of transformers' Deformable-DETR and ours give the
    same output on the same input (reference points, spatial shapes and masks as each expects)."""
    config = MLSTrackConfig.tiny(backbone_pretrained=True)
    source = _tiny_deformable_detr(config).eval()
    model = MLSTrack(config).eval()
    init_from_deformable_detr(model, source.state_dict())
    shapes = [(6, 8), (3, 4), (2, 2), (1, 1)][: config.n_levels]
    tokens = sum(h * w for h, w in shapes)
    spatial, level_start = transformers_shape_arguments(shapes)
    valid = torch.ones(1, tokens, dtype=torch.bool)  # transformers' mask: True where real
    g = torch.Generator().manual_seed(1)
    src, pos = torch.randn(2, 1, tokens, 32, generator=g)
    theirs_reference = source.model.encoder.get_reference_points(
        shapes, torch.ones(1, len(shapes), 2), device=src.device
    )
    ours_reference = encoder_reference_points(shapes, len(shapes), src.device)
    assert torch.allclose(theirs_reference, ours_reference, atol=1e-6)
    with torch.no_grad():
        theirs = source.model.encoder.layers[0](
            src,
            valid,
            spatial_position_embeddings=pos,
            reference_points=theirs_reference,
            spatial_shapes=spatial,
            spatial_shapes_list=shapes,
            level_start_index=level_start,
        )
        ours = model.encoder.layers[0](src, pos, ours_reference, shapes)
    assert torch.allclose(theirs, ours, atol=1e-5)

    tgt, query_pos = torch.randn(2, 1, 7, 32, generator=g)
    boxes = torch.rand(1, 7, 4, generator=g) * 0.5 + 0.25  # cxcywh inside the image
    level_boxes = boxes[:, :, None, :].expand(-1, -1, len(shapes), -1)
    with torch.no_grad():
        theirs = source.model.decoder.layers[1](
            tgt,
            object_queries_position_embeddings=query_pos,
            reference_points=level_boxes,
            spatial_shapes=spatial,
            spatial_shapes_list=shapes,
            level_start_index=level_start,
            encoder_hidden_states=src,
            encoder_attention_mask=valid,
        )
        ours = model.decoder.layers[1](tgt, query_pos, level_boxes, src, shapes, None)
    assert torch.allclose(theirs, ours, atol=1e-5)
    # a layer left at its random initialisation does not agree: the test can fail
    with torch.no_grad():
        fresh = (
            MLSTrack(config)
            .eval()
            .decoder.layers[1](tgt, query_pos, level_boxes, src, shapes, None)
        )
    assert not torch.allclose(theirs, fresh, atol=1e-3)


def test_deformable_detr_by_hub_name_offline_says_how_to_provide_it(tmp_path: Path) -> None:
    model = MLSTrack(MLSTrackConfig.tiny())
    with pytest.raises(ExternalToolError) as info:
        init_from_deformable_detr(model, "SenseTime/deformable-detr-with-box-refine")
    assert "HF_HUB_OFFLINE" in str(info.value) and "local-dir" in str(info.value)
    with pytest.raises(ExternalToolError, match=r"no model\.safetensors"):
        init_from_deformable_detr(model, str(tmp_path))


def _word_level_tokenizer(folder: Path) -> Path:
    """A tiny `transformers` fast tokenizer built in code and saved to `folder`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "<unk>": 2, "</s>": 3, "red": 4, "car": 5, "bus": 6}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.save_pretrained(str(folder))
    return folder


def test_transformers_tokenizer_travels_with_the_checkpoint(tmp_path: Path) -> None:
    tokenizer_dir = _word_level_tokenizer(tmp_path / "tok")
    config = MLSTrackConfig.tiny(text_encoder_type="roberta", text_tokenizer=str(tokenizer_dir))
    model = MLSTrack(config)
    save_pretrained(model, tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "text_tokenizer").is_dir()
    for path in tokenizer_dir.iterdir():
        path.unlink()
    tokenizer_dir.rmdir()  # the original is gone: the checkpoint must carry its own copy
    loaded = from_pretrained(tmp_path / "ckpt")
    assert loaded.config.text_tokenizer == str(tmp_path / "ckpt" / "text_tokenizer")
    words = loaded.encode_text(["red car", "bus"])
    reference = model.encode_text(["red car", "bus"])
    assert torch.equal(words.word_padding_mask, reference.word_padding_mask)
    assert torch.allclose(words.word_features, reference.word_features)


def test_a_random_backbone_saved_with_batch_norm_statistics_loads(tmp_path: Path) -> None:
    # checkpoints written before per-image normalisation hold running statistics
    model = MLSTrack(MLSTrackConfig.tiny())
    save_pretrained(model, tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / WEIGHTS_NAME
    state = load_file(str(weights))
    state["backbone.resnet.embedder.embedder.normalization.running_mean"] = torch.zeros(8)
    state["backbone.resnet.embedder.embedder.normalization.num_batches_tracked"] = torch.ones(
        (), dtype=torch.long
    )
    save_file(state, str(weights))
    loaded = from_pretrained(tmp_path / "ckpt")
    assert torch.equal(
        loaded.backbone.resnet.embedder.embedder.normalization.weight,
        model.backbone.resnet.embedder.embedder.normalization.weight,
    )
