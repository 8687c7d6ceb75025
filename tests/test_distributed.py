"""train/*.py under torchrun (DistributedDataParallel, gloo on the CPU): two processes on a tiny data set."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gen import training

ROOT = Path(__file__).resolve().parent.parent

# Runs a training script in each torchrun process as `python script ...` would, with two additions for the test:
# every rank gets its own --run-dir and --out (so whatever a rank other than 0 writes shows up in its folder), and
# each rank saves the weights of the model it handed to gen.training.wrap once the script is done.
WORKER = """
import os, runpy, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import torch
from gen import training
rank, out, script = int(os.environ["RANK"]), Path(sys.argv[1]), sys.argv[2]
sys.argv = [script, *sys.argv[3:], "--run-dir", str(out / f"rank{{rank}}" / "runs"),
            "--out", str(out / f"rank{{rank}}" / "out")]
models, wrap = [], training.wrap
training.wrap = lambda m: models.append(m) or wrap(m)
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as e:
    if e.code:
        raise
torch.save(models[0].state_dict(), out / f"weights-rank{{rank}}.pt")
"""


def torchrun(tmp: Path, script: str, *args: str) -> str:
    worker = tmp / "worker.py"
    worker.write_text(WORKER.format(root=str(ROOT)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(worker), str(tmp), str(ROOT / script), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def same_weights(tmp: Path, name: str = "vae2-mnist") -> None:
    w0, w1 = (torch.load(tmp / f"weights-rank{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "the ranks' weights differ"
    state = torch.load(tmp / "rank0" / "runs" / f"{name}.pt", weights_only=True)
    assert all(torch.equal(state["model"][k], w0[k]) for k in w0), "the saved state is not the trained model"


def test_vae_under_torchrun_two_processes(tmp_path, tiny_npz):
    common = ["--data", str(tiny_npz), "--device", "cpu", "--batch", "16"]

    out = torchrun(tmp_path, "train/vae.py", *common, "--epochs", "1")
    same_weights(tmp_path)  # (a) DDP kept the two ranks in step
    rank0, rank1 = tmp_path / "rank0", tmp_path / "rank1"
    assert (rank0 / "runs" / "vae2-mnist.pt").exists() and (rank0 / "out" / "model.safetensors").exists()
    assert not [p for p in rank1.rglob("*") if p.is_file()], "a rank other than 0 wrote files"  # (b)
    assert out.count("epoch 1: ELBO") == 1  # one voice: rank 0's
    first = json.loads((rank0 / "out" / "training.json").read_text())
    assert first["command"].startswith("torchrun --nproc_per_node 2 ") and first["hardware"].startswith("2 processes")

    out = torchrun(tmp_path, "train/vae.py", *common, "--epochs", "2")  # (c) picks up where it stopped
    assert "at epoch 1" in out and "epoch 1: ELBO" not in out and "epoch 2: ELBO" in out
    same_weights(tmp_path)
    info = json.loads((rank0 / "out" / "training.json").read_text())
    assert info["epochs_done"] == 2 and info["history"][0] == first["history"][0]
    assert torch.load(rank0 / "runs" / "vae2-mnist.pt", weights_only=True)["epoch"] == 2
    assert not [p for p in rank1.rglob("*") if p.is_file()]


def test_ddpm_in_micro_batches_under_torchrun_keeps_the_ranks_equal(tmp_path, tiny_npz):
    # gradient accumulation under DDP: the ranks skip the all-reduce for all but the last chunk (no_sync); if a
    # chunk's gradient never reached the other rank, the weights would differ after the first step
    torchrun(tmp_path, "train/ddpm.py", "--data", str(tiny_npz), "--device", "cpu", "--ch", "8", "--batch", "16",
             "--micro-batch", "6", "--steps", "3", "--every", "3")
    same_weights(tmp_path, "ddpm-mnist")
    assert torch.load(tmp_path / "rank0" / "runs" / "ddpm-mnist.pt", weights_only=True)["step"] == 3


@pytest.mark.parametrize("n, batch", [(256, 16), (1000, 128), (60_000, 128)])
def test_batches_shard_disjointly(monkeypatch, n, batch):
    one = torch.cat(list(training.batches(n, batch, "cpu", 3, 7)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3 * 10_000 + 7))
    assert torch.equal(one, perm[:n // batch * batch])  # without torchrun: as before
    monkeypatch.setattr(training, "world", lambda: 3)
    shards = []
    for r in range(3):
        monkeypatch.setattr(training, "rank", lambda r=r: r)
        shards.append(torch.cat(list(training.batches(n, batch, "cpu", 3, 7))))
        assert len(shards[-1]) == training.n_batches(n, batch) * batch  # every rank takes as many steps
    both = torch.cat(shards)
    assert len(both.unique()) == len(both)  # disjoint
