"""MLS-Track speed: training step and inference per frame, tracking several expressions of a
video with the backbone shared against one expression at a time (same outputs), and
deformable attention's two implementations on identical inputs.

    python benchmarks/bench_mlstrack.py                          # tiny on CPU (~1 minute)
    python benchmarks/bench_mlstrack.py --device cuda --preset paper-random  # paper sizes, 800

The paper-random preset is the real architectures with random weights (nothing downloaded):
speed does not depend on the weights. With `--device cuda` and no GPU it says so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

from mlstrack.config import MLSTrackConfig
from mlstrack.criterion import SetCriterion, next_training_tracks
from mlstrack.deformable_attention import (
    ms_deform_attn_sample,
    ms_deform_attn_sample_reference,
)
from mlstrack.model import MLSTrack
from mlstrack.targets import FrameTargets
from mlstrack.track_state import TrackState
from mlstrack.tracker import track_step
from mlstrack.tracker_config import TrackerConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(
    fn: Callable[[], object],
    device: torch.device,
    repeats: int,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median seconds of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        _sync(device)
        times.append(clock() - start)
    return statistics.median(times)


def _targets(device: torch.device, count: int = 8) -> FrameTargets:
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(count, 2, generator=g) * 0.6 + 0.2
    sizes = torch.rand(count, 2, generator=g) * 0.1 + 0.05
    return FrameTargets(
        torch.cat((centres, sizes), 1).to(device),
        torch.arange(count, device=device),
        (torch.arange(count) % 2).float().to(device),
    )


def bench_model(
    config: MLSTrackConfig, device: torch.device, height: int, width: int, repeats: int
) -> None:
    torch.manual_seed(0)
    model = MLSTrack(config).to(device)
    criterion = SetCriterion(config)
    text = model.encode_text(["the white car turning left"])
    image = torch.rand(1, 3, height, width, device=device)
    targets = _targets(device)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(
        f"model: d={config.d_model}, queries={config.num_queries}, "
        f"{config.num_encoder_layers}+{config.num_decoder_layers} layers, "
        f"{trainable / 1e6:.2f}M trainable; image {width}×{height}; device {device}"
    )

    # A training step over a two-frame clip (the second frame carries track queries and the
    # denoising groups), reported per frame.
    def train_clip() -> None:
        model.train()
        track = TrackState.empty(config.d_model, device)
        total = torch.zeros((), device=device)
        for _ in range(2):
            outputs = model(image, text, track)
            assignment = criterion.assign(outputs, targets, track.ids)
            total = total + criterion.total(criterion(outputs, targets, track.ids, assignment))
            track = next_training_tracks(
                model.query_interaction, outputs, targets, assignment, track
            )
        optimiser.zero_grad()
        total.backward()
        optimiser.step()

    seconds = _time(train_clip, device, repeats) / 2
    print(f"forward+backward: {seconds:.4f} s/frame ({1 / seconds:.3g} frames/s)")

    model.eval()
    state: list[TrackState | None] = [None]

    def infer() -> None:
        state[0], _ = track_step(model, image, text, state[0], TrackerConfig())

    seconds = _time(infer, device, repeats * 2)
    print(f"inference (track_step): {seconds:.4f} s/frame = {1 / seconds:.3g} frames/s")


def bench_shared_tracking(
    config: MLSTrackConfig,
    device: torch.device,
    height: int,
    width: int,
    expressions: int = 8,
    frames: int = 8,
) -> None:
    """`expressions` sentences tracked over the same `frames` frames: one expression at a time
    (the backbone runs expressions × frames times) against `inference.track_video`'s order
    (the backbone once per frame, shared). The outputs must be identical."""
    torch.manual_seed(0)
    model = MLSTrack(config).to(device).eval()
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(1, 3, height, width, generator=g).to(device) for _ in range(frames)]
    sentences = [f"the {c} cars turning left" for c in ("red", "black", "white", "blue")]
    texts = [model.encode_text([sentences[k % 4] + " " * k]) for k in range(expressions)]

    def alone() -> list:
        out = []
        for text in texts:
            track = None
            for image in images:
                track, result = track_step(model, image, text, track, TrackerConfig())
                out.append(result)
        return out

    def shared() -> list:
        out: list = [[] for _ in texts]
        tracks: list = [None] * len(texts)
        with torch.no_grad():
            for image in images:
                features = model.visual_features(image)
                for k, text in enumerate(texts):
                    tracks[k], result = track_step(
                        model, image, text, tracks[k], TrackerConfig(), features
                    )
                    out[k].append(result)
        return [r for per_text in out for r in per_text]

    same = all(
        a.ids.tolist() == b.ids.tolist() and (a.boxes_xyxy == b.boxes_xyxy).all()
        for a, b in zip(alone(), shared(), strict=True)
    )
    # CPU time of this process on CPU (a shared machine's other jobs do not count), wall
    # time on CUDA
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    slow = _time(alone, device, 3, warmup=1, clock=clock)
    fast = _time(shared, device, 3, warmup=1, clock=clock)
    print(
        f"tracking {expressions} expressions × {frames} frames "
        f"({'CPU' if device.type == 'cpu' else 'wall'} seconds): one expression at a time "
        f"{slow:.3f} s, backbone shared per frame {fast:.3f} s, speed-up ×{slow / fast:.2f}, "
        f"identical outputs: {same}"
    )


def bench_attention(
    device: torch.device, height: int, width: int, queries: int, repeats: int
) -> None:
    """Both implementations on the same inputs: the paper's heads/levels/points, the maps of an
    image of `width`×`height` at strides 8–64."""
    shapes = [(-(-height // s), -(-width // s)) for s in (8, 16, 32, 64)]
    tokens = sum(h * w for h, w in shapes)
    heads, head_dim, points = 8, 32, 4
    g = torch.Generator(device="cpu").manual_seed(0)
    value = torch.randn(1, tokens, heads, head_dim, generator=g).to(device)
    for name, count in (("decoder", queries), ("encoder", tokens)):
        locations = torch.rand(1, count, heads, 4, points, 2, generator=g).to(device)
        weights = torch.rand(1, count, heads, 4, points, generator=g).to(device)
        weights = weights / weights.sum((-1, -2), keepdim=True)
        fast = _time(
            lambda v=value, lo=locations, w=weights: ms_deform_attn_sample(v, shapes, lo, w),
            device,
            repeats,
        )
        slow = _time(
            lambda v=value, lo=locations, w=weights: ms_deform_attn_sample_reference(
                v, shapes, lo, w
            ),
            device,
            repeats,
        )
        error = (
            (
                ms_deform_attn_sample(value, shapes, locations, weights)
                - ms_deform_attn_sample_reference(value, shapes, locations, weights)
            )
            .abs()
            .max()
        )
        print(
            f"deformable attention, {name} ({count} queries, {tokens} tokens): grid_sample "
            f"{fast * 1e3:.2f} ms, explicit-bilinear reference {slow * 1e3:.2f} ms, "
            f"speed-up ×{slow / fast:.1f}, max |difference| {error:.1e}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--preset", default="tiny", choices=("tiny", "paper-random"))
    parser.add_argument(
        "--short-side",
        type=int,
        default=None,
        help="image height (tiny: 256, paper: 800); width is 1.6× (KITTI-like "
        "frames capped as TransRMOT's 1536 long side allows)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--expressions", type=int, default=8, help="expressions of the shared-tracking bench"
    )
    parser.add_argument("--frames", type=int, default=8, help="frames of the shared-tracking bench")
    parser.add_argument(
        "--only-shared", action="store_true", help="run the shared-tracking bench only"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 for tiny on CPU, where more threads "
        "only contend, else torch's own)",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda asked for, but no CUDA device is available here")
        return 0
    threads = args.threads or (1 if args.preset == "tiny" and args.device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(args.device)
    if args.preset == "paper-random":
        config = MLSTrackConfig.preset("paper-random")
        height = args.short_side or 800
    else:
        words = ("the", "red", "black", "white", "blue", "cars", "car", "turning", "left")
        config = MLSTrackConfig.tiny(word_vocabulary=words)
        height = args.short_side or 256
    width = int(height * 1.6)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else "")
    )
    if not args.only_shared:
        bench_model(config, device, height, width, args.repeats)
    bench_shared_tracking(config, device, height, width, args.expressions, args.frames)
    if args.only_shared:
        return 0
    bench_attention(
        device,
        height,
        width,
        config.num_queries if args.preset == "paper-random" else 300,
        args.repeats,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
