"""train/*.py's bookkeeping: a run continued from a shipped model (--init) names every run before it in its card."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from gen.training import Clock, backward_in_chunks, continued_from
from gen.unet import UNet

ROOT = Path(__file__).resolve().parent.parent


def test_continued_from_chains_the_earlier_runs():
    gpu = {"hardware": "1x NVIDIA H200", "command": "python train/ddpm.py --steps 100", "steps": 100}
    one = continued_from(gpu, "steps", 100)
    assert one == {"continued_from": "steps 0-100 on 1x NVIDIA H200: python train/ddpm.py --steps 100",
                   "first_step_of_this_run": 100}
    cpu = {"hardware": "CPU", "command": "python train/ddpm.py --init a --steps 150", **one}
    two = continued_from(cpu, "steps", 150)
    assert two["continued_from"] == one["continued_from"] + " then steps 100-150 on CPU: " + cpu["command"]
    assert two["first_step_of_this_run"] == 150


def test_the_time_budget_counts_this_runs_time_across_resumes():
    assert Clock(0.0, max_minutes=1.0).fraction() < 0.01
    # resumed 30 s into a run that started from a model trained for 1,000 s (--init): half of a minute's budget used
    resumed = Clock(spent=1030.0, max_minutes=1.0, base=1000.0)
    assert 0.5 <= resumed.fraction() < 0.51 and not resumed.out_of_time()
    assert Clock(spent=1061.0, max_minutes=1.0, base=1000.0).out_of_time()
    assert Clock(spent=1061.0, base=1000.0).fraction() == 0.0  # no budget
    assert Clock(spent=1000.0, max_minutes=1.0).fraction() < 0.01  # --init: the budget starts at the model's seconds
    saved = Clock.resume({"seconds": 1030.0, "base_seconds": 1000.0}, 1.0).state()
    assert saved["base_seconds"] == 1000.0 and 1030.0 <= saved["seconds"] < 1031.0
    assert Clock.resume({"seconds": 1030.0}, 1.0).fraction() < 0.01  # saved before base_seconds: it restarts


def test_a_batch_backward_in_chunks_gives_the_whole_batchs_gradient_and_mean_loss():
    torch.manual_seed(0)
    net = UNet(8, T=100)
    x, t, eps = torch.randn(10, 1, 28, 28), torch.randint(0, 100, (10,)), torch.randn(10, 1, 28, 28)

    def loss_of(i: torch.Tensor) -> torch.Tensor:  # L_simple with fixed t and eps, so that both see the same loss
        return ((net(x[i], t[i]) - eps[i]) ** 2).mean()

    grads, losses = [], []
    for chunk in (None, 4, 3):  # the whole batch, 4+4+2 and 3+3+3+1 images (unequal last chunks)
        net.zero_grad()
        losses.append(backward_in_chunks(net, loss_of, torch.arange(10), chunk, torch.autocast("cpu", enabled=False)))
        grads.append(torch.cat([q.grad.flatten() for q in net.parameters()]))
    assert grads[0].abs().max() > 0
    for g, loss in zip(grads[1:], losses[1:]):
        torch.testing.assert_close(g, grads[0], rtol=1e-4, atol=1e-6)
        assert abs(loss - losses[0]) < 1e-6


def test_ddpm_resumed_with_its_time_budget_spent_stops_where_the_uninterrupted_run_would(tmp_path, tiny_npz):
    def ddpm(steps: int) -> str:
        return train("ddpm", "--data", str(tiny_npz), "--ch", "8", "--batch", "16", "--steps", str(steps), "--every",
                     "1", "--max-minutes", "1", "--cosine", "--run-dir", str(tmp_path / "runs"), "--out",
                     str(tmp_path / "out"))

    ddpm(2)
    state_path = tmp_path / "runs" / "ddpm-mnist.pt"
    state = torch.load(state_path, weights_only=True)
    assert state["step"] == 2 and state["base_seconds"] == 0.0
    state["seconds"] = 61.0  # as if the run had been interrupted just after its minute was up
    torch.save(state, state_path)
    assert "resumed from" in ddpm(4)  # asked for more steps, but the budget of this run is spent
    info = json.loads((tmp_path / "out" / "training.json").read_text())
    assert info["steps"] == 2 and info["train_seconds"] >= 61


def train(script: str, *args: str) -> str:
    """Runs train/<script>.py on the CPU, one thread; returns what it printed."""
    r = subprocess.run([sys.executable, f"train/{script}.py", "--device", "cpu", *args], cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


def gan(*args: str) -> str:
    return train("gan", "--batch", "64", "--width", "8", *args)


def test_gan_continued_from_a_model_keeps_its_lineage_and_the_shipped_epochs_grid(tmp_path, tiny_npz):
    npz = tiny_npz
    first, second = tmp_path / "first" / "gan-mnist", tmp_path / "second" / "gan-mnist"
    gan("--data", str(npz), "--epochs", "1", "--run-dir", str(tmp_path / "r1"), "--out", str(first))
    cont = ["--data", str(npz), "--init", str(first), "--loss", "hinge", "--ema", "0.9", "--epochs", "2",
            "--run-dir", str(tmp_path / "r2"), "--out", str(second), "--snapshots", "5", "--bf16"]
    assert "initialised from" in gan(*cont)
    info = json.loads((second / "training.json").read_text())
    before = json.loads((first / "training.json").read_text())
    assert info["continued_from"] == f"epochs 0-1 on {before['hardware']}: {before['command']}"
    assert info["first_epoch_of_this_run"] == 1 and info["epochs_done"] == 2
    assert before["precision"] == "float32" and info["precision"] == "bfloat16 autocast"  # --bf16: the same losses
    assert all(np.isfinite([h["d_loss"], h["g_loss"], h["D_x"]]).all() for h in info["history"])
    assert "| continued from | epochs 0-1 on " in (second / "README.md").read_text()
    assert (second / "snapshots" / "epoch-002.png").exists()  # the shipped epoch, though not asked for

    (second / "snapshots" / "epoch-002.png").unlink()
    assert "resumed from" in gan(*cont)  # only exports the finished state: the same lineage and grid
    assert json.loads((second / "training.json").read_text())["continued_from"] == info["continued_from"]
    assert (second / "snapshots" / "epoch-002.png").exists()

    # a resumed run takes the command line's learning rates (a lower rate for the last epochs), not the saved ones
    gan(*cont[:9], "3", *cont[10:], "--lr", "5e-5", "--lr-d", "1e-4")  # --epochs 3
    state = torch.load(tmp_path / "r2" / "gan-mnist.pt", weights_only=True)
    assert state["epoch"] == 3
    assert [state[o]["param_groups"][0]["lr"] for o in ("opt_g", "opt_d")] == [5e-5, 1e-4]


def test_gan_initialised_from_another_datasets_model_starts_a_new_run_that_names_it(tmp_path, tiny_npz):
    npz = tiny_npz
    mnist, fashion = tmp_path / "a" / "gan-mnist", tmp_path / "b" / "gan-fashion"
    gan("--data", str(npz), "--epochs", "2", "--run-dir", str(tmp_path / "r1"), "--out", str(mnist))
    gan("--dataset", "fashion", "--data", str(npz), "--init", str(mnist), "--epochs", "1",
        "--run-dir", str(tmp_path / "r2"), "--out", str(fashion))
    info = json.loads((fashion / "training.json").read_text())
    assert info["dataset"] == "fashion" and info["epochs_done"] == 1 and len(info["history"]) == 1  # epoch 0 on
    assert "continued_from" not in info and info["initialised_from"].startswith("gan-mnist (mnist, 2 epochs, ")
    assert "| initialised from | gan-mnist (mnist, 2 epochs" in (fashion / "README.md").read_text()
    assert json.loads((fashion / "config.json").read_text())["dataset"] == "fashion"


def test_unconditional_gan_with_the_shipped_recipe_and_mode_seeking_trains_and_says_so(tmp_path, tiny_npz):
    out = tmp_path / "gan-fashion"
    gan("--dataset", "fashion", "--data", str(tiny_npz), "--deep", "--sn", "--diffaug", "--loss", "hinge", "--ema",
        "0.999", "--ms", "0.1", "--epochs", "1", "--run-dir", str(tmp_path / "r"), "--out", str(out))
    info = json.loads((out / "training.json").read_text())
    assert info["mode_seeking"] == 0.1 and info["spectral_norm"] and info["deep"] and not info["conditional"]
    assert "mode-seeking term (Mao et al. 2019) with weight 0.1" in info["description"]


def test_oversample_repeats_one_class_and_leaves_the_others():
    from gen.training import oversample

    y = torch.tensor([0, 6, 1, 6, 2, 6, 6, 3])
    x = torch.arange(len(y)).float()
    for factor, n6 in ((1, 4), (1.5, 6), (3, 12)):
        xo, yo = oversample(x, y, 6, factor)
        assert (yo == 6).sum() == n6 and (yo != 6).sum() == 4
        assert torch.equal(xo[:len(x)], x) and torch.equal(y[xo.long()], yo)  # images keep their labels


def test_gan_with_one_class_oversampled_trains_on_more_of_it_and_says_so(tmp_path, tiny_npz):
    out = tmp_path / "gan-fashion"
    gan("--dataset", "fashion", "--data", str(tiny_npz), "--oversample", "6:2", "--epochs", "1",
        "--run-dir", str(tmp_path / "r"), "--out", str(out))
    info = json.loads((out / "training.json").read_text())
    n6 = int((np.load(tiny_npz)["y_train"] == 6).sum())
    assert info["n_train_images"] == 256 + n6 and info["oversample"] == "6:2"
    assert "class 6 (Shirt) repeated 2x in the training set" in info["description"]


def soup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train/soup.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_a_soup_is_the_weighted_average_of_its_ingredients_and_its_card_names_them(tmp_path, tiny_npz):
    from safetensors.torch import load_file

    from gen.gan import Generator
    from gen.hub import _from_folder

    a, b, out = tmp_path / "a" / "gan-mnist", tmp_path / "b" / "gan-mnist", tmp_path / "s" / "gan-mnist"
    gan("--data", str(tiny_npz), "--epochs", "1", "--run-dir", str(tmp_path / "ra"), "--out", str(a))
    gan("--data", str(tiny_npz), "--init", str(a), "--epochs", "2", "--lr", "1e-3", "--run-dir",
        str(tmp_path / "rb"), "--out", str(b))
    r = soup(f"{a}:0.25", f"{b}:0.75", "--out", str(out), "--d", f"{b}-D")
    assert r.returncode == 0, r.stderr
    wa, wb, ws = (load_file(str(f / "model.safetensors")) for f in (a, b, out))
    w = "net.0.weight"
    assert not torch.allclose(wa[w], wb[w]) and torch.allclose(ws[w], 0.25 * wa[w] + 0.75 * wb[w], atol=1e-6)
    counter = next(k for k in ws if k.endswith("num_batches_tracked"))
    assert ws[counter].dtype == wa[counter].dtype == torch.int64  # BatchNorm's step counter stays an integer
    assert isinstance(_from_folder(Generator, out, "soup"), Generator)  # loads as the app loads it
    info = json.loads((out / "training.json").read_text())
    before = json.loads((b / "training.json").read_text())
    first = json.loads((a / "training.json").read_text())
    assert info["continued_from"] == f"epochs 0-1 on {first['hardware']}: {first['command']}"  # what both share
    assert info["soup"] == ("0.25 x (gan-mnist at epoch 1: the runs above) + 0.75 x (gan-mnist at epoch 2: "
                            f"epochs 1-2 on {before['hardware']}: {before['command']})")
    assert "model soup" in info["description"] and "| soup | 0.25 x (" in (out / "README.md").read_text()
    assert (out.parent / "gan-mnist-D" / "model.safetensors").read_bytes() == \
        (b.parent / "gan-mnist-D" / "model.safetensors").read_bytes()

    bad = soup(f"{a}:0.5", f"{b}:0.6", "--out", str(tmp_path / "x"))
    assert bad.returncode != 0 and "sum to 1.1" in bad.stderr
