from __future__ import annotations

import torch
from torch import nn

from mlstrack.backbone import Backbone, FrozenBatchNorm2d, freeze_batch_norm, per_image_norm
from mlstrack.config import MLSTrackConfig


def test_frozen_batch_norm_matches_eval_batch_norm() -> None:
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    x = torch.randn(2, 4, 5, 5)
    frozen = FrozenBatchNorm2d.from_batch_norm(bn)
    assert torch.allclose(frozen(x), bn.eval()(x), atol=1e-6)
    assert not list(frozen.parameters())


def test_pyramid_strides_and_widths(tiny_config: MLSTrackConfig, image: torch.Tensor) -> None:
    backbone = Backbone(tiny_config)
    features = backbone(image)  # image 64×96
    assert [tuple(f.shape) for f in features] == [
        (1, 32, 8, 12),
        (1, 32, 4, 6),
        (1, 32, 2, 3),
        (1, 32, 1, 2),
    ]
    # tiny's ResNet is random: it trains whole, with per-image normalisation
    assert not any(isinstance(m, nn.BatchNorm2d) for m in backbone.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in backbone.resnet.modules())
    pretrained = Backbone(tiny_config.replace(backbone_pretrained=True))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in pretrained.modules())


def test_stem_and_first_stage_of_a_pretrained_resnet_are_frozen(
    tiny_config: MLSTrackConfig,
) -> None:
    tiny_config = tiny_config.replace(backbone_pretrained=True)
    backbone = Backbone(tiny_config)
    resnet = backbone.resnet
    assert not any(p.requires_grad for p in resnet.embedder.parameters())
    assert not any(p.requires_grad for p in resnet.encoder.stages[0].parameters())
    assert all(p.requires_grad for p in resnet.encoder.stages[1].parameters())
    none = Backbone(tiny_config.replace(backbone_trainable_stages=0))
    assert not any(p.requires_grad for p in none.resnet.parameters())


def test_freeze_batch_norm_recurses() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Sequential(nn.BatchNorm2d(4)))
    freeze_batch_norm(model)
    assert isinstance(model[1][0], FrozenBatchNorm2d)


def test_a_random_backbone_computes_in_eval_what_it_trained_with(
    tiny_config: MLSTrackConfig, image: torch.Tensor
) -> None:
    # training sees one frame at a time; batch norm's running averages of per-image statistics
    # made eval mode a different function (on the CPU demo: 26 % vs 42 % of objects found)
    backbone = Backbone(tiny_config)
    for _ in range(3):
        backbone.train()(torch.rand_like(image))  # what would move running statistics
    trained_with = backbone.train()(image)
    evaluated = backbone.eval()(image)
    for train_level, eval_level in zip(trained_with, evaluated, strict=True):
        assert torch.allclose(train_level, eval_level, atol=1e-5)


def test_per_image_norm_is_batch_norm_on_one_image() -> None:
    bn = nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    model = per_image_norm(nn.Sequential(nn.Sequential(bn)))
    x = torch.randn(1, 6, 5, 7)
    assert isinstance(model[0][0], nn.GroupNorm)
    assert torch.allclose(model.eval()(x), bn.train()(x), atol=1e-5)
