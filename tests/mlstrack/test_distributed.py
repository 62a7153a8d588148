"""Training under a real `torchrun` with 2 CPU processes (gloo): the ranks share every epoch's
clips out, all-reduce their gradients into identical replicas, and only rank 0 writes the run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlstrack.checkpoint import from_pretrained
from tests.mlstrack.distributed_worker import STEPS, weights_digest
from tests.mlstrack.refer_kitti_tree import write_tree

WORKER = Path(__file__).with_name("distributed_worker.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_torchrun_on_cpu(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "rk")
    run, out = tmp_path / "run", tmp_path / "ranks"
    out.mkdir()
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", str(WORKER), str(tree), str(run), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world_size"], r["backend"]) for r in ranks] == [
        (0, 2, "gloo"),
        (1, 2, "gloo"),
    ]
    # each rank trains on its own share of the clips ...
    assert ranks[0]["clips"] != ranks[1]["clips"]
    # ... yet the all-reduced gradients keep the parameters identical, and rank 0's batch-norm
    # statistics are broadcast, so the two replicas are the same model step after step
    assert ranks[0]["parameters"] == ranks[1]["parameters"]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    # rank 0 alone wrote the log, the checkpoints and the final model, which is that replica
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-0000002",
        "step-0000004",
    ]
    assert weights_digest(from_pretrained(run / "model").state_dict()) == ranks[0]["weights"]
