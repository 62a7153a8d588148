"""Checkpoints: `save_pretrained` / `from_pretrained` (config.json + model.safetensors), and
initialisation from COCO-trained Deformable-DETR weights with an explicit key map.

A saved folder is self-contained: the config records the architecture of every pretrained part
(ResNet, RoBERTa, CLIP) so loading builds them from their configs and fills in the saved weights,
with no hub access; `transformers` tokenizers are saved next to the weights.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from mlstrack.backbone import drop_batch_norm_statistics
from mlstrack.config import MLSTrackConfig
from mlstrack.errors import ModelConfigError
from mlstrack.model import MLSTrack
from mlstrack.pretrained import how_to_provide, is_offline
from mlstrack.text_encoders import HFTokenizer
from mlstrack.tracker_config import MODEL_CONFIG_FILE, split_tracker_fields
from uecity.core.atomic import atomic_path
from uecity.core.errors import ExternalToolError, SpecError
from uecity.core.record_io import load_record

log = logging.getLogger(__name__)

CONFIG_NAME = MODEL_CONFIG_FILE  # read without torch by `tracker_config` too
WEIGHTS_NAME = "model.safetensors"
FORMAT = "mlstrack"  # CheckpointConfigFile.format
# transformers' bookkeeping keys, not architecture: dropped when a config is recorded
_HF_META = {
    "transformers_version",
    "architectures",
    "_name_or_path",
    "id2label",
    "label2id",
    "dtype",
    "torch_dtype",
    "return_dict",
    "output_hidden_states",
    "output_attentions",
    "problem_type",
    "chunk_size_feed_forward",
    "is_encoder_decoder",
    "_attn_implementation",
    "out_features",
    "out_indices",
    "stage_names",
    "model_type",
    "use_cache",
}


class CheckpointError(SpecError):
    """A checkpoint folder that cannot be read as an MLS-Track model."""


class CheckpointConfigFile(BaseModel):
    """`config.json` of a checkpoint folder: the format tag and the MLSTrackConfig fields
    (checked by `MLSTrackConfig.from_dict`, which names a bad field)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mlstrack"]
    config: dict[str, Any]


def _architecture(hf_config: Any) -> dict[str, Any]:
    values = hf_config.to_dict()
    return {k: v for k, v in values.items() if k not in _HF_META and not k.startswith("_")}


def _write_atomic(path: Path, write: Any) -> None:
    with atomic_path(path) as temporary:  # a kill leaves a swept `.uecity-tmp-` name only
        write(temporary)


def save_pretrained(model: MLSTrack, folder: str | Path) -> Path:
    """Writes config.json, model.safetensors and any `transformers` tokenizers into `folder`."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    changes: dict[str, Any] = {"backbone_config": _architecture(model.backbone.resnet.config)}
    if not model.config.trainable_text:  # the word encoder's config is its vocabulary
        changes["text_encoder_config"] = _architecture(model.text_encoder.model.config)
    if model.clip_encoder is not None:
        changes["clip_text_config"] = _architecture(model.clip_encoder.model.config)
    for attribute, key, sub in (
        ("text_encoder", "text_tokenizer", "text_tokenizer"),
        ("clip_encoder", "clip_tokenizer", "clip_tokenizer"),
    ):
        encoder = getattr(model, attribute)
        tokenizer = getattr(encoder, "tokenizer", None) if encoder is not None else None
        if isinstance(tokenizer, HFTokenizer):
            tokenizer.save_pretrained(str(folder / sub))
            changes[key] = sub
    config = model.config.replace(**changes)
    payload = {"format": FORMAT, "config": config.to_dict()}
    _write_atomic(
        folder / CONFIG_NAME, lambda p: p.write_text(json.dumps(payload, indent=2, sort_keys=True))
    )
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _write_atomic(
        folder / WEIGHTS_NAME, lambda p: save_file(state, str(p), metadata={"format": "pt"})
    )
    log.info("saved MLS-Track checkpoint to %s", folder)
    return folder


def load_config(folder: str | Path) -> MLSTrackConfig:
    """The config of a checkpoint folder, tokenizer paths resolved against the folder."""
    folder = Path(folder)
    path = folder / CONFIG_NAME
    if not folder.is_dir():
        raise CheckpointError(
            "not a checkpoint folder (it does not exist or is a file); "
            "expected a folder written by save_pretrained",
            path=folder,
        )
    if not path.is_file():
        raise CheckpointError(
            f"missing {CONFIG_NAME}; expected a folder written by "
            "save_pretrained (`uecity model init` makes one)",
            path=folder,
        )
    payload = load_record(path, CheckpointConfigFile, error=CheckpointError)
    # a checkpoint from before the tracker had its own config keeps its thresholds in here
    values = split_tracker_fields(payload.config)[0]
    try:
        config = MLSTrackConfig.from_dict(values)
    except ModelConfigError as error:
        raise CheckpointError(str(error), path=path, field="config") from None
    changes = {}
    for key in ("text_tokenizer", "clip_tokenizer"):
        value = getattr(config, key)
        if value and (folder / value).is_dir():
            changes[key] = str(folder / value)
    return config.replace(**changes) if changes else config


def from_pretrained(folder: str | Path, map_location: str | torch.device = "cpu") -> MLSTrack:
    """The model saved in `folder` by `save_pretrained`; no hub access needed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config = load_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"missing {WEIGHTS_NAME}", path=folder)
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, RuntimeError) as error:
        raise CheckpointError(f"unreadable safetensors file ({error})", path=weights) from None
    model = MLSTrack(config)
    if not config.backbone_pretrained:
        state = drop_batch_norm_statistics(state)  # saved before per-image normalisation
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not fit the config: {len(missing)} missing "
            f"({', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}), {len(unexpected)} "
            f"unexpected ({', '.join(unexpected[:5])}{'…' if len(unexpected) > 5 else ''})",
            path=weights,
        )
    return model.to(map_location)


# --- Deformable-DETR initialisation --------------------------------------------------------


@dataclass
class InitReport:
    """What `init_from_deformable_detr` did. Keys are ours unless said otherwise."""

    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)  # "ours <- theirs: (a) vs (b)"
    absent_in_source: list[str] = field(default_factory=list)
    not_mapped: list[str] = field(default_factory=list)  # ours, outside the key map
    unused_source: list[str] = field(default_factory=list)  # theirs, never read

    def summary(self) -> str:
        return (
            f"{len(self.loaded)} tensors loaded, {len(self.shape_mismatch)} shape "
            f"mismatches, {len(self.absent_in_source)} absent in the source, "
            f"{len(self.not_mapped)} of ours outside the map, {len(self.unused_source)} "
            "source tensors unused"
        )


def _alternatives(*names: str) -> tuple[str, ...]:
    return names


def deformable_detr_key_map(model: MLSTrack) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Our key → the source tensors it is made of, each given as alternative spellings
    (transformers 4.x / 5.x checkpoints; timm or transformers ResNet). A key made of several
    source tensors (the decoder's q/k/v) concatenates them along dim 0."""
    config = model.config
    mapping: dict[str, tuple[tuple[str, ...], ...]] = {}
    backbones = ("model.backbone.conv_encoder.model.", "model.backbone.model.")
    for key in model.backbone.resnet.state_dict():
        ours = f"backbone.resnet.{key}"
        candidates = [prefix + key for prefix in backbones]
        timm = _timm_resnet_key(key)
        if timm is not None:
            candidates.append("model.backbone.conv_encoder.model." + timm)
        mapping[ours] = (tuple(candidates),)
    for level in range(config.n_levels):
        for part in ("0.weight", "0.bias", "1.weight", "1.bias"):
            mapping[f"backbone.input_proj.{level}.{part}"] = (
                _alternatives(
                    f"model.input_projection.{level}.{part}", f"model.input_proj.{level}.{part}"
                ),
            )
    mapping["level_embed"] = (("model.level_embed",),)
    mapping["query_embed.weight"] = (("model.query_position_embeddings.weight",),)
    deformable = ("sampling_offsets", "attention_weights", "value_proj", "output_proj")
    for i in range(config.num_encoder_layers):
        src, dst = f"model.encoder.layers.{i}.", f"encoder.layers.{i}."
        for name in deformable:
            for p in ("weight", "bias"):
                mapping[f"{dst}self_attn.{name}.{p}"] = ((f"{src}self_attn.{name}.{p}",),)
        for p in ("weight", "bias"):
            mapping[f"{dst}norm.{p}"] = ((f"{src}self_attn_layer_norm.{p}",),)
            mapping[f"{dst}ffn.linear1.{p}"] = ((f"{src}fc1.{p}", f"{src}mlp.fc1.{p}"),)
            mapping[f"{dst}ffn.linear2.{p}"] = ((f"{src}fc2.{p}", f"{src}mlp.fc2.{p}"),)
            mapping[f"{dst}ffn.norm.{p}"] = ((f"{src}final_layer_norm.{p}",),)
    for i in range(config.num_decoder_layers):
        src, dst = f"model.decoder.layers.{i}.", f"decoder.layers.{i}."
        for name in deformable:
            for p in ("weight", "bias"):
                mapping[f"{dst}cross_attn.{name}.{p}"] = ((f"{src}encoder_attn.{name}.{p}",),)
        mapping[f"{dst}self_attn.in_proj_weight"] = tuple(
            (f"{src}self_attn.{x}_proj.weight",) for x in "qkv"
        )
        mapping[f"{dst}self_attn.in_proj_bias"] = tuple(
            (f"{src}self_attn.{x}_proj.bias",) for x in "qkv"
        )
        for p in ("weight", "bias"):
            mapping[f"{dst}self_attn.out_proj.{p}"] = (
                (f"{src}self_attn.out_proj.{p}", f"{src}self_attn.o_proj.{p}"),
            )
            mapping[f"{dst}norm1.{p}"] = ((f"{src}self_attn_layer_norm.{p}",),)
            mapping[f"{dst}norm2.{p}"] = ((f"{src}encoder_attn_layer_norm.{p}",),)
            mapping[f"{dst}ffn.linear1.{p}"] = ((f"{src}fc1.{p}", f"{src}mlp.fc1.{p}"),)
            mapping[f"{dst}ffn.linear2.{p}"] = ((f"{src}fc2.{p}", f"{src}mlp.fc2.{p}"),)
            mapping[f"{dst}ffn.norm.{p}"] = ((f"{src}final_layer_norm.{p}",),)
            for k in range(3):
                mapping[f"decoder.bbox_embed.{i}.layers.{k}.{p}"] = (
                    (
                        f"bbox_embed.{i}.layers.{k}.{p}",
                        f"model.decoder.bbox_embed.{i}.layers.{k}.{p}",
                    ),
                )
            # COCO's 91 classes do not fit our one: reported as a shape mismatch
            mapping[f"class_embed.{i}.{p}"] = ((f"class_embed.{i}.{p}",),)
        # Deformable-DETR's reference points are 2-d, ours are boxes: reported as a mismatch
    for p in ("weight", "bias"):
        mapping[f"reference_box.{p}"] = (("model.reference_points." + p,),)
    return mapping


def _timm_resnet_key(key: str) -> str | None:
    """transformers' ResNet key → timm's (Deformable-DETR's original backbone naming)."""
    bn = {
        "weight": "weight",
        "bias": "bias",
        "running_mean": "running_mean",
        "running_var": "running_var",
        "num_batches_tracked": "num_batches_tracked",
    }
    match = re.fullmatch(r"embedder\.embedder\.(convolution|normalization)\.(\w+)", key)
    if match:
        return ("conv1." if match[1] == "convolution" else "bn1.") + bn.get(match[2], match[2])
    match = re.fullmatch(r"encoder\.stages\.(\d)\.layers\.(\d+)\.(.+)", key)
    if not match:
        return None
    stage, block, rest = int(match[1]), match[2], match[3]
    prefix = f"layer{stage + 1}.{block}."
    sub = re.fullmatch(r"layer\.(\d)\.(convolution|normalization)\.(\w+)", rest)
    if sub:
        index = int(sub[1]) + 1
        return prefix + (f"conv{index}." if sub[2] == "convolution" else f"bn{index}.") + sub[3]
    sub = re.fullmatch(r"shortcut\.(convolution|normalization)\.(\w+)", rest)
    if sub:
        return prefix + ("downsample.0." if sub[1] == "convolution" else "downsample.1.") + sub[2]
    return None


def _read_state_dict(name_or_path: str) -> dict[str, Tensor]:
    """A checkpoint's raw tensors from a folder, a file, or the hub (through transformers)."""
    from safetensors.torch import load_file

    path = Path(name_or_path).expanduser()
    candidates = ("model.safetensors", "pytorch_model.bin")
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = [path / c for c in candidates if (path / c).is_file()]
        if not files:
            raise ExternalToolError(
                f"no {' or '.join(candidates)} in this folder; " + how_to_provide(name_or_path),
                path=path,
            )
    elif name_or_path.startswith((".", "/", "~")):
        raise ExternalToolError(
            "no such file or folder; " + how_to_provide(name_or_path), path=path
        )
    else:
        from transformers.utils import cached_file

        files = []
        errors = []
        for candidate in candidates:
            try:
                found = cached_file(
                    name_or_path, candidate, _raise_exceptions_for_missing_entries=False
                )
            except (OSError, ValueError) as error:
                errors.append(f"{error.__class__.__name__}: {str(error).splitlines()[0]}")
                continue
            if found:
                files = [Path(found)]
                break
        if not files:
            mode = " (HF_HUB_OFFLINE is set)" if is_offline() else ""
            raise ExternalToolError(
                f"cannot load the Deformable-DETR weights {name_or_path!r}{mode}"
                f"{': ' + errors[0] if errors else ''}. " + how_to_provide(name_or_path)
            )
    file = files[0]
    if file.suffix == ".safetensors":
        return load_file(str(file))
    return torch.load(str(file), map_location="cpu", weights_only=True)


def init_from_deformable_detr(model: MLSTrack, name_or_path: str | dict[str, Tensor]) -> InitReport:
    """Copies COCO-trained Deformable-DETR weights (e.g. `SenseTime/deformable-detr-with-box-
    refine`, a local folder, or a state dict) into `model` through `deformable_detr_key_map`,
    and reports what was loaded, what did not fit and what was left out."""
    source = name_or_path if isinstance(name_or_path, dict) else _read_state_dict(name_or_path)
    mapping = deformable_detr_key_map(model)
    ours = model.state_dict()
    report = InitReport()
    used: set[str] = set()
    updates: dict[str, Tensor] = {}
    for key, parts in mapping.items():
        if key not in ours:
            continue
        tensors = []
        for alternatives in parts:
            found = next((name for name in alternatives if name in source), None)
            if found is None:
                break
            tensors.append(source[found])
            used.add(found)
        if len(tensors) != len(parts):
            report.absent_in_source.append(key)
            continue
        value = tensors[0] if len(tensors) == 1 else torch.cat(tensors, 0)
        if value.shape != ours[key].shape:
            report.shape_mismatch.append(
                f"{key}: ours {tuple(ours[key].shape)} vs source {tuple(value.shape)}"
            )
            continue
        updates[key] = value.to(ours[key].dtype)
        report.loaded.append(key)
    model.load_state_dict(updates, strict=False)
    report.not_mapped = sorted(
        key
        for key in ours
        if key not in mapping and not key.startswith(("text_encoder.", "clip_encoder."))
    )
    report.unused_source = sorted(set(source) - used)
    log.info("Deformable-DETR init: %s", report.summary())
    return report
