from __future__ import annotations

import pytest
import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import SetCriterion
from mlstrack.model import MLSTrack, parameter_summary, trainable_parameters
from mlstrack.track_state import TrackState
from tests.mlstrack.conftest import Overfitted, clip_loss, two_frame_targets


def _model(config: MLSTrackConfig, seed: int = 0) -> MLSTrack:
    torch.manual_seed(seed)
    return MLSTrack(config)


def test_output_shapes_and_dtypes(tiny_config: MLSTrackConfig, image: torch.Tensor) -> None:
    model = _model(tiny_config).eval()
    text = model.encode_text(["the red car on the left"])
    assert text.token_ids is not None and text.token_ids.shape == (1, 6)  # tiny: word encoder
    encoded = model.text_encoder(text)
    assert encoded.sentence_embedding is not None and encoded.sentence_embedding.shape == (1, 32)
    outputs = model(image, text)
    n = tiny_config.num_queries
    assert outputs["pred_logits"].shape == (1, n, 1)
    assert outputs["pred_boxes"].shape == (1, n, 4)
    assert outputs["pred_refers"].shape == (1, n, 1)
    assert outputs["hidden"].shape == outputs["query_pos"].shape == (1, n, 32)
    assert all(outputs[k].dtype == torch.float32 for k in ("pred_logits", "pred_boxes"))
    assert ((outputs["pred_boxes"] > 0) & (outputs["pred_boxes"] < 1)).all()
    assert len(outputs["aux_outputs"]) == tiny_config.num_decoder_layers - 1
    assert outputs["denoising"] == []
    assert (outputs["num_detect"], outputs["num_track"]) == (n, 0)


def test_rejects_batches_of_videos(tiny_config: MLSTrackConfig) -> None:
    model = _model(tiny_config)
    text = model.encode_text(["a car"])
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        model(torch.rand(2, 3, 64, 64), text)


def test_track_queries_and_denoising_groups(
    tiny_config: MLSTrackConfig, image: torch.Tensor
) -> None:
    model = _model(tiny_config).train()
    text = model.encode_text(["a car"])
    track = TrackState(
        torch.randn(3, 32),
        torch.randn(3, 32),
        torch.full((3, 4), 0.3),
        torch.tensor([0, 4, 7]),
        torch.ones(3),
        torch.ones(3),
        torch.zeros(3, dtype=torch.long),
        next_id=8,
    )
    outputs = model(image, text, track)
    assert outputs["pred_logits"].shape == (1, 12 + 3, 1)
    assert outputs["num_track"] == 3
    assert len(outputs["denoising"]) == 3
    assert outputs["denoising"][0]["pred_boxes"].shape == (1, 3, 4)
    model.eval()
    assert model(image, text, track)["denoising"] == []


def test_denoising_groups_do_not_change_the_main_answer(
    tiny_config: MLSTrackConfig, image: torch.Tensor
) -> None:
    model = _model(tiny_config)
    text = model.encode_text(["a car"])
    track = TrackState(
        torch.randn(2, 32),
        torch.randn(2, 32),
        torch.full((2, 4), 0.3),
        torch.tensor([0, 1]),
        torch.ones(2),
        torch.ones(2),
        torch.zeros(2, dtype=torch.long),
        next_id=2,
    )
    with torch.no_grad():
        plain = model.eval()(image, text, track)["pred_boxes"]
        grouped = model.train()(image, text, track)["pred_boxes"]  # dropout is 0 in tiny
    assert torch.allclose(plain, grouped, atol=1e-5)


def test_gradients_reach_every_trainable_parameter_and_no_frozen_one(
    tiny_config: MLSTrackConfig, image: torch.Tensor
) -> None:
    model = _model(tiny_config).train()
    criterion = SetCriterion(tiny_config)
    text = model.encode_text(["the red car"])
    images = [image, image.flip(-1)]
    # a third frame so the QIM's output (frame 2's track queries) feeds a loss
    total, track = clip_loss(model, criterion, images, text)
    outputs = model(image, text, track)
    targets = two_frame_targets()[1]
    total = total + criterion.total(criterion(outputs, targets, track.ids))
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    # zero-initialised last box layers block the gradient to the layers before them at first
    zero = [
        n for n, p in model.named_parameters() if p.requires_grad and not p.grad.abs().sum() > 0
    ]
    assert all(n.startswith("decoder.bbox_embed.") for n in zero)
    leaked = [n for n, p in model.named_parameters() if not p.requires_grad and p.grad is not None]
    assert leaked == []
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert not any(n.startswith("text_encoder.") for n in frozen)  # tiny's word encoder trains
    assert model.clip_encoder is None  # its sentence embedding comes from the word encoder
    assert not any(n.startswith("backbone.resnet") for n in frozen)  # random: trains whole


def test_deterministic_under_a_seed(tiny_config: MLSTrackConfig, image: torch.Tensor) -> None:
    outputs = []
    for _ in range(2):
        model = _model(tiny_config, seed=7).eval()
        outputs.append(model(image, model.encode_text(["a bus"]))["pred_boxes"])
    assert torch.equal(outputs[0], outputs[1])
    other = _model(tiny_config, seed=8).eval()
    assert not torch.equal(outputs[0], other(image, other.encode_text(["a bus"]))["pred_boxes"])


@pytest.mark.parametrize(
    "changes",
    [
        {"variant": "transrmot"},
        {"variant": "sgm"},
        {"variant": "sgm", "sgm_variant": "only_det"},
        {"variant": "sgm", "sgm_variant": "only_cross_attention"},
        {"scb_variant": "roberta"},
        {"scb_variant": "concat_mlp"},
        {"scb_variant": "cross_attention"},
        {"text_encoder_type": "roberta"},
        {"text_encoder_type": "roberta", "scb_variant": "roberta"},
        {"text_encoder_type": "roberta", "variant": "transrmot"},
    ],
)
def test_variants_run(changes: dict, image: torch.Tensor) -> None:
    config = MLSTrackConfig.tiny(word_vocabulary=("a", "bus"), **changes)
    model = _model(config).eval()
    text = model.encode_text(["a bus"])
    if config.trainable_text:
        assert text.token_ids is not None and text.sentence_embedding is None
    else:
        assert (text.sentence_embedding is not None) == config.needs_clip
    assert model(image, text)["pred_refers"].shape == (1, 12, 1)
    assert (model.sgm is not None) == config.use_sgm


def test_table3_rows_grow_in_parameters() -> None:
    counts = [
        trainable_parameters(_model(MLSTrackConfig.tiny(variant=v)))
        for v in ("transrmot", "sgm", "sgm_scb")
    ]
    assert counts[0] < counts[1] < counts[2]
    summary = parameter_summary(_model(MLSTrackConfig.tiny(text_encoder_type="roberta")))
    assert summary["text encoder"][0] == 0 and summary["text encoder"][1] > 0
    assert summary["CLIP text tower"][0] == 0 and summary["CLIP text tower"][1] > 0
    summary = parameter_summary(_model(MLSTrackConfig.tiny(word_vocabulary=("a", "bus"))))
    assert summary["text encoder"][0] > 0 and summary["text encoder"][1] == 0


def test_loss_falls_when_overfitting_two_frames(overfitted: Overfitted) -> None:
    losses = overfitted.losses
    assert losses[-1] < 0.3 * losses[0]
    assert sum(losses[-5:]) < sum(losses[:5]) * 0.3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_forward_on_gpu(tiny_config: MLSTrackConfig, image: torch.Tensor) -> None:
    model = _model(tiny_config).cuda().eval()
    text = model.encode_text(["a bus"])
    outputs = model(image.cuda(), text)
    cpu = _model(tiny_config).eval()
    reference = cpu(image, cpu.encode_text(["a bus"]))
    assert torch.allclose(outputs["pred_boxes"].cpu(), reference["pred_boxes"], atol=1e-4)
