"""The visual backbone: ResNet-50 through `transformers`, a feature pyramid.

A pretrained ResNet keeps Deformable-DETR's frozen batch norm and frozen stem and first stage; a
randomly initialised one (`backbone_pretrained: false`) trains whole, since frozen identity
statistics and frozen random filters only hold it back. Its batch norms become per-image
normalisation (GroupNorm with one group per channel): MLS-Track trains on one frame at a time,
where training-mode batch norm normalises each channel over the one image, and eval-mode batch
norm's running averages of those per-image statistics are a different function (on the CPU demo
they cost 38 % of the detections a single frame had with the statistics the model trained with).

ResNet's stages 2–4 give strides 8/16/32; extra stride-2 3×3 convolutions on the last stage add
the remaining levels (one for the paper's 4 levels). Each level is projected to d_model with a
1×1 conv (3×3 for the extra ones) and GroupNorm, as Deformable-DETR does.

`FrozenBatchNorm2d` is adapted from DETR's (facebookresearch/detr, models/backbone.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mlstrack.config import MLSTrackConfig
from mlstrack.pretrained import load_pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (buffers, never trained)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    @classmethod
    def from_batch_norm(cls, bn: nn.BatchNorm2d) -> FrozenBatchNorm2d:
        frozen = cls(bn.num_features, bn.eps)
        with torch.no_grad():
            if bn.affine:
                frozen.weight.copy_(bn.weight)
                frozen.bias.copy_(bn.bias)
            if bn.running_mean is not None and bn.running_var is not None:
                frozen.running_mean.copy_(bn.running_mean)
                frozen.running_var.copy_(bn.running_var)
        return frozen

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Replaces every `BatchNorm2d` inside `module` by a `FrozenBatchNorm2d` with its values."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d.from_batch_norm(child))
        else:
            freeze_batch_norm(child)
    return module


def per_image_norm(module: nn.Module) -> nn.Module:
    """Replaces every `BatchNorm2d` inside `module` by a `GroupNorm` with one group per channel
    and the same affine parameters: what batch norm computes in training on a batch of one
    image, and the same in eval mode (no running statistics)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            norm = nn.GroupNorm(child.num_features, child.num_features, eps=child.eps)
            with torch.no_grad():
                norm.weight.copy_(child.weight)
                norm.bias.copy_(child.bias)
            setattr(module, name, norm)
        else:
            per_image_norm(child)
    return module


BATCH_NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def drop_batch_norm_statistics(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A random-backbone state dict saved before `per_image_norm` without its batch-norm running
    statistics: the model trained with per-image statistics, which is what it now uses."""
    return {
        key: value
        for key, value in state.items()
        if not (key.startswith("backbone.resnet.") and key.endswith(BATCH_NORM_STATISTICS))
    }


def build_resnet(config: MLSTrackConfig) -> nn.Module:
    """The `transformers` ResNetModel: random from `backbone_config`, else pretrained."""
    from transformers import ResNetConfig, ResNetModel

    if config.backbone_config is not None:
        return ResNetModel(ResNetConfig(**config.backbone_config))
    return load_pretrained(ResNetModel, config.backbone_name, "the ResNet-50 backbone")


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, channels), channels)


class Backbone(nn.Module):
    """Image (B, 3, H, W) in [0, 1] → `n_levels` maps (B, d, h_l, w_l), strides 8·2^l."""

    def __init__(self, config: MLSTrackConfig, resnet: nn.Module | None = None) -> None:
        super().__init__()
        self.resnet = resnet if resnet is not None else build_resnet(config)
        if config.backbone_pretrained:
            freeze_batch_norm(self.resnet)
        else:
            per_image_norm(self.resnet)
        # (3,) -> (1, 3, 1, 1) to broadcast over images
        self.register_buffer(
            "pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False
        )
        hidden_sizes = list(self.resnet.config.hidden_sizes)
        self.stage_channels = hidden_sizes[1:]  # strides 8, 16, 32
        # Pretrained: the stem (embedder) and the first (4 - trainable) stages stay fixed.
        frozen_stages = 4 - config.backbone_trainable_stages if config.backbone_pretrained else -1
        frozen = (
            [self.resnet.embedder, *list(self.resnet.encoder.stages)[:frozen_stages]]
            if frozen_stages >= 0
            else []
        )
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        d = config.d_model
        projections = [
            nn.Sequential(nn.Conv2d(channels, d, kernel_size=1), _group_norm(d))
            for channels in self.stage_channels[: config.n_levels]
        ]
        in_channels = self.stage_channels[-1]
        for _ in range(config.n_levels - len(self.stage_channels)):
            projections.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, d, kernel_size=3, stride=2, padding=1), _group_norm(d)
                )
            )
            in_channels = d
        self.input_proj = nn.ModuleList(projections)
        for projection in self.input_proj:
            nn.init.xavier_uniform_(projection[0].weight, gain=1)
            nn.init.zeros_(projection[0].bias)

    def forward(self, images: Tensor) -> list[Tensor]:
        pixels = (images - self.pixel_mean) / self.pixel_std
        hidden = self.resnet(pixels, output_hidden_states=True).hidden_states
        stages = list(hidden[2:5])  # strides 8, 16, 32
        features = []
        for level, projection in enumerate(self.input_proj):
            if level < len(stages):
                features.append(projection(stages[level]))
            elif level == len(stages):
                features.append(projection(stages[-1]))
            else:
                features.append(projection(features[-1]))
        return features
