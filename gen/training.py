"""What every training script shares: arguments, data on the device, resumable state, model cards.

No Gradio here: this runs on GPU machines that have only torch.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from gen import data
from gen.images import to_float


def parser(description: str, epochs: int, batch: int, lr: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", choices=list(data.DATASETS), default="mnist")
    p.add_argument("--data", default=None, help="Keras-layout .npz, e.g. ../shared/data/mnist.npz "
                   "(default: torchvision download into --data-root)")
    p.add_argument("--data-root", default="data")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this much training")
    p.add_argument("--out", default=None, help="output folder (default: checkpoints/<name>)")
    p.add_argument("--run-dir", default="runs", help="where resumable training state is kept")
    return p


def setup(args: argparse.Namespace, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeds everything, fills in defaults, and returns the training images ([N,1,28,28] in [0,1]) and labels."""
    torch.manual_seed(args.seed)
    args.name = name
    args.out = Path(args.out or Path("checkpoints") / name)
    args.state = Path(args.run_dir) / f"{name}.pt"
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    x, y = data.load(args.dataset, "train", args.data, args.data_root)
    return to_float(x).to(args.device), torch.as_tensor(y).long().to(args.device)


def batches(n: int, batch: int, device: str, seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Index batches of one epoch, shuffled reproducibly, dropping the ragged last batch."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 10_000 + epoch)).to(device)
    for i in range(0, n - batch + 1, batch):
        yield perm[i:i + batch]


class Clock:
    """Wall time spent training, carried across resumes, with the optional budget."""

    def __init__(self, spent: float = 0.0, max_minutes: float | None = None):
        self.spent, self.start, self.limit = spent, time.time(), max_minutes

    @property
    def seconds(self) -> float:
        return self.spent + time.time() - self.start

    def fraction(self) -> float:
        """How much of this run's time budget is used (0 without one)."""
        return 0.0 if self.limit is None else (time.time() - self.start) / (60 * self.limit)

    def out_of_time(self) -> bool:
        return self.fraction() > 1


def save_state(path: Path, **state) -> None:
    """Resumable state (weights, optimiser, counters); never shipped, loaded with weights_only=True."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, str(path) + ".tmp")
    Path(str(path) + ".tmp").replace(path)


def load_state(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


class EMA:
    """Exponential moving average of a model's weights (Ho et al. use 0.9999)."""

    def __init__(self, model: nn.Module, decay: float):
        self.model, self.decay = copy.deepcopy(model).eval().requires_grad_(False), decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up: early weights are forgotten fast
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        return f"1x {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def export(model: nn.Module, args: argparse.Namespace, clock: Clock, **info) -> None:
    """Writes the Hub folder: config.json + model.safetensors, training.json, and the model card."""
    model = copy.deepcopy(model).cpu().eval()
    model.save_pretrained(args.out)
    n_train = info.pop("n_train", None)
    training = {"name": args.name, "dataset": args.dataset, "n_train_images": n_train,
                "data_source": args.data or f"torchvision {data.DATASETS[args.dataset]} (download)",
                "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                "train_seconds": round(clock.seconds, 1), "hardware": hardware(args.device),
                "parameters": sum(p.numel() for p in model.parameters()),
                "command": "python " + " ".join(__import__("sys").argv), **info}
    (args.out / "training.json").write_text(json.dumps(training, indent=2))
    write_card(args.out)


def write_card(folder: Path) -> None:
    """README.md from training.json and, once `gen.evaluate --write` ran, metrics.json."""
    folder = Path(folder)
    t = json.loads((folder / "training.json").read_text())
    m = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else None
    lines = ["---", "library_name: genlab", "tags: [genlab, " + t["name"].split("-")[0] + "]",
             f"datasets: [{'mnist' if t['dataset'] == 'mnist' else 'fashion_mnist'}]", "---", "",
             f"# {t['name']}", "", t.get("description", ""), "", "## Training", "",
             "| | |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in t.items()
              if k not in ("name", "description", "history") and not isinstance(v, (dict, list))]
    lines += ["", "## Measured", ""]
    if m is None:
        lines.append("Not evaluated yet: run `python -m gen.evaluate --model " + t["name"] + " --write`.")
    else:
        cmd = m.get("command", f"python -m gen.evaluate --model {t['name']} --write")
        lines += [f"Measured with `{cmd}` ({m['n_samples']} samples).", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {v:.4g} |" if isinstance(v, float) else f"| {k.replace('_', ' ')} | {v} |"
                  for k, v in m.items() if k not in ("class_histogram", "model", "command")]
        if "class_histogram" in m:
            lines += ["", "Class histogram of the samples (by the classifier):", "",
                      "| " + " | ".join(m["class_histogram"]) + " |", "|" + "---|" * len(m["class_histogram"]),
                      "| " + " | ".join(f"{v:.1%}" for v in m["class_histogram"].values()) + " |"]
    lines += ["", "Files: `config.json` (constructor arguments), `model.safetensors` (weights), `training.json` "
              f"(this run's settings and per-epoch log). Load with `gen.hub.load(\"{t['name']}\")`.", ""]
    (folder / "README.md").write_text("\n".join(lines))
