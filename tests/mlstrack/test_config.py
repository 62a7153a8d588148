from __future__ import annotations

import pytest

from mlstrack.config import MLSTrackConfig
from mlstrack.errors import ModelConfigError
from uecity.core.errors import UECityError


def test_paper_defaults() -> None:
    config = MLSTrackConfig.paper()
    assert (config.d_model, config.n_heads, config.num_queries) == (256, 8, 300)
    assert (config.num_encoder_layers, config.num_decoder_layers) == (6, 6)
    assert (config.n_levels, config.n_points, config.ffn_dim) == (4, 4, 1024)
    assert (config.track_group_denoising, config.denoising_noise_variance) == (3, 0.3)
    assert config.variant == "sgm_scb" and config.use_sgm and config.use_scb and config.needs_clip
    assert config.backbone_config is None  # pretrained by hub name


def test_paper_random_carries_real_architectures() -> None:
    config = MLSTrackConfig.preset("paper-random")
    assert config.backbone_config["depths"] == [3, 4, 6, 3]
    assert config.text_encoder_config["hidden_size"] == 768
    assert config.clip_text_config["projection_dim"] == 768


def test_round_trip_through_dict() -> None:
    config = MLSTrackConfig.tiny(variant="sgm", sgm_variant="only_det")
    assert MLSTrackConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"d_model": 30}, "d_model"),
        ({"d_model": 0}, "d_model"),
        ({"n_heads": 5}, "d_model"),
        ({"num_queries": -1}, "num_queries"),
        ({"n_levels": 1}, "n_levels"),
        ({"dropout": 1.5}, "dropout"),
        ({"variant": "mls"}, "variant"),
        ({"sgm_variant": "half"}, "sgm_variant"),
        ({"scb_variant": "bert"}, "scb_variant"),
        ({"variant": "transrmot", "sgm_variant": "only_det"}, "sgm_variant"),
        ({"variant": "sgm", "scb_variant": "roberta"}, "scb_variant"),
        ({"denoising_noise_variance": -0.3}, "denoising_noise_variance"),
        ({"loss_giou": -1.0}, "loss_giou"),
        ({"backbone_trainable_stages": 7}, "backbone_trainable_stages"),
    ],
)
def test_rejects_bad_values_with_the_field_named(changes: dict, field: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        MLSTrackConfig.tiny(**changes)
    assert info.value.field == field
    assert "expected" in str(info.value) and field in str(info.value)


def test_unknown_fields_and_presets_are_clear_errors() -> None:
    with pytest.raises(ModelConfigError, match="unknown config field"):
        MLSTrackConfig.from_dict({"d_modle": 256})
    with pytest.raises(ModelConfigError, match="unknown preset"):
        MLSTrackConfig.preset("huge")
    with pytest.raises(ModelConfigError, match=r"unknown config field.*refer_threshold"):
        MLSTrackConfig.preset("tiny", refer_threshold=0.5)  # in TrackerConfig now
    assert issubclass(ModelConfigError, UECityError) and ModelConfigError.exit_code == 3


def test_configs_saved_with_the_retired_clip_backend_field() -> None:
    saved = MLSTrackConfig.tiny().to_dict()
    old = {**saved, "clip_backend": "transformers", "open_clip_model": "ViT-L-14"}
    old["open_clip_pretrained"] = "openai"
    assert MLSTrackConfig.from_dict(old) == MLSTrackConfig.from_dict(saved)
    with pytest.raises(ModelConfigError, match="open_clip, which is no longer supported") as info:
        MLSTrackConfig.from_dict({**old, "clip_backend": "open_clip"})
    assert info.value.field == "clip_backend"


def test_variant_switches() -> None:
    assert not MLSTrackConfig.tiny(variant="transrmot").use_sgm
    assert MLSTrackConfig.tiny(variant="sgm").use_sgm
    assert not MLSTrackConfig.tiny(variant="sgm").use_scb
    assert not MLSTrackConfig.tiny(scb_variant="roberta").needs_clip
    assert MLSTrackConfig.tiny(scb_variant="concat_mlp").needs_clip
