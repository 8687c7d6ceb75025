"""Training speed of train/gan.py and train/ddpm.py on this CPU, float32 against --bf16: python bench/train_speed.py

Runs the scripts themselves (1 thread, batch 128) on 6,400 of the shipped MNIST training images, a short and a long
run of each, and reads the training seconds each saved in its resumable state: their difference over the difference
in steps is the cost of a step, without the start and the sample grids. Prints ms per step (a GAN step is one D and
one G update; a GAN epoch here is 50); a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gen import data  # noqa: E402

RUNS = {  # name: (script, its arguments, the short and the long run, in the steps each trains)
    "gan (shipped G/D)": ("gan.py", [], ("--epochs", 1, 3), 50),
    "gan --deep --diffaug": ("gan.py", ["--deep", "--diffaug"], ("--epochs", 1, 3), 50),
    "ddpm (ch 32)": ("ddpm.py", ["--every", "1000"], ("--steps", 10, 60), 1),
}


def seconds(script: str, args: list[str], npz: Path, tmp: Path) -> float:
    run = tmp / f"run-{len(list(tmp.iterdir()))}"
    subprocess.run([sys.executable, f"train/{script}", "--device", "cpu", "--data", str(npz), "--run-dir", str(run),
                    "--out", str(run / "out"), *args], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                   check=True, capture_output=True)
    (state,) = run.glob("*.pt")
    return torch.load(state, weights_only=False)["seconds"]


def ms_per_step(script: str, extra: list[str], length: tuple[str, int, int], steps_per: int, npz: Path,
                tmp: Path) -> float:
    flag, short, long = length
    s0, s1 = (seconds(script, [*extra, flag, str(n)], npz, tmp) for n in (short, long))
    return 1000 * (s1 - s0) / ((long - short) * steps_per)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    x, y = data.train_sample("mnist")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        npz = tmp / "mnist-6400.npz"
        np.savez(npz, x_train=x[:6400], y_train=y[:6400], x_test=x[6400:7400], y_test=y[6400:7400])
        for name, (script, extra, length, steps_per) in RUNS.items():
            fp32 = ms_per_step(script, extra, length, steps_per, npz, tmp)
            bf16 = ms_per_step(script, [*extra, "--bf16"], length, steps_per, npz, tmp)
            print(f"{name:22s} float32 {fp32:6.0f} ms/step   --bf16 {bf16:6.0f} ms/step   {fp32 / bf16:.1f}x")


if __name__ == "__main__":
    main()
