"""One rank of a tiny training run, launched by `test_distributed.py` through `torchrun`.

Usage: torchrun --nproc-per-node 2 distributed_worker.py TREE RUN OUT. Builds the `Trainer`
as `uecity train` does (the process group comes from torchrun's environment), trains, and
writes OUT/rank-<r>.json with the clips this rank trained on and a digest of its weights, so
the test can check that the ranks shared the clips out and ended with identical replicas.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch.distributed as dist

from mlstrack.training import TrainConfig, Trainer

STEPS = 4


def weights_digest(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main(tree: str, run: str, out: str) -> None:
    config = TrainConfig(
        max_steps=STEPS, checkpoint_every=2, log_every=1, tensorboard=False, num_threads=1
    )
    trainer = Trainer(config, tree, run)
    clips = [
        [start.video_id, list(start.frames), start.expression.name]
        for start in (trainer.sampler_at(step).clip(step) for step in range(STEPS))
    ]
    trainer.train()
    record = {
        "rank": trainer.rank,
        "world_size": trainer.world_size,
        "backend": dist.get_backend(),
        "clips": clips,
        "weights": weights_digest(trainer.model.state_dict()),
        "parameters": weights_digest(dict(trainer.model.named_parameters())),
    }
    Path(out, f"rank-{trainer.rank}.json").write_text(json.dumps(record))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
