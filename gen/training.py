"""What every training script shares: arguments, data on the device, resumable state, model cards.

No Gradio here: this runs on GPU machines that have only torch.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from gen import data
from gen.images import to_float
from gen.unet import cpu_has_bf16


def parser(description: str, epochs: int, batch: int, lr: float, bf16: bool = False) -> argparse.ArgumentParser:
    """The flags every training script shares; `bf16`: the script trains under `autocast(args)`."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", choices=list(data.DATASETS), default="mnist")
    p.add_argument("--data", default=None, help="Keras-layout .npz, e.g. ../shared/data/mnist.npz "
                   "(default: torchvision download into --data-root)")
    p.add_argument("--data-root", default="data")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch, help="per process: under torchrun the global batch is "
                   "--batch x processes")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this much training time "
                   "of this run, counted across resumes")
    p.add_argument("--out", default=None, help="output folder (default: checkpoints/<name>)")
    p.add_argument("--run-dir", default="runs", help="where resumable training state is kept")
    p.add_argument("--name", default=None, help="the model's name (its card, state file and default --out), e.g. "
                   "ddpm-mnist-weak; default: the script's")
    if bf16:
        p.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CPU too (2.0-2.4x faster steps on a "
                       "CPU with AVX512-BF16: bench/train_speed.py); always on for CUDA")
    return p


def autocast(args: argparse.Namespace) -> torch.autocast:
    """Mixed precision: the forward passes in bfloat16, weights, optimiser state and losses in float32."""
    cuda = args.device.startswith("cuda")
    if args.bf16 and not cuda and not cpu_has_bf16() and is_main():
        print("warning: --bf16 on a CPU without bf16 units (AMX, AVX512-BF16) is emulated: slower than float32 "
              "(ch 48 U-Net: 7.6 against 3.5 s a step)", file=sys.stderr)
    return torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=cuda or args.bf16)


def backward_in_chunks(net: nn.Module, loss_of: Callable[[torch.Tensor], torch.Tensor], idx: torch.Tensor,
                       chunk: int | None, amp: torch.autocast) -> float:
    """loss_of(idx).backward() for one batch of indices, `chunk` of them at a time (gradient accumulation), and
    the batch's mean loss. The same gradient as the whole batch at once for a model without batch statistics (the
    U-Net's GroupNorm), but on a CPU 64 images at a time stay in cache: 2.7 against 3.75 s a step of 256 at
    once (ch 48 U-Net, 2 threads). Under DDP the ranks average their gradients once, after the last chunk."""
    parts = idx.split(chunk or len(idx))
    total = 0.0
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        with net.no_sync() if hasattr(net, "no_sync") and not last else contextlib.nullcontext():
            with amp:
                loss = loss_of(part)
            (loss * (len(part) / len(idx))).backward()  # the mean over the whole batch
        total += loss.item() * len(part)
    return total / len(idx)


# ---- torchrun / DistributedDataParallel: the same scripts on N devices; without torchrun all of this is a no-op ----

def distributed(device: str) -> tuple[int, int, str]:
    """Joins the torchrun job described by the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT), once.

    Returns (rank, world size, this process's device): cuda:LOCAL_RANK with nccl, or the CPU with gloo.
    Without torchrun (no WORLD_SIZE, or 1) it returns (0, 1, device) and changes nothing."""
    if int(os.environ.get("WORLD_SIZE", 1)) == 1:
        return 0, 1, device
    if device.startswith("cuda"):
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    if not dist.is_initialized():
        if device.startswith("cuda"):
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        atexit.register(dist.destroy_process_group)
        if dist.get_rank():  # one voice: only rank 0 prints (and shows progress bars: the scripts ask is_main())
            sys.stdout = open(os.devnull, "w")
    return dist.get_rank(), dist.get_world_size(), device


def _device() -> str:
    return f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 alone writes checkpoints, samples, logs and progress bars."""
    return rank() == 0


def wrap(model: nn.Module) -> nn.Module:
    """DDP around the model under torchrun (else the model itself): train through the wrapper, but keep the
    unwrapped model for the EMA, state_dict() and export, so checkpoints are the same with or without torchrun."""
    if not dist.is_initialized():
        return model
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[torch.cuda.current_device()]
                                              if dist.get_backend() == "nccl" else None)  # copies rank 0's weights
    torch.manual_seed(torch.initial_seed() + rank())  # from here on each rank draws its own noise (z, t, eps)
    return ddp


def n_batches(n: int, batch: int) -> int:
    """Batches per epoch (per rank) that `batches` yields."""
    return n // world() // batch


def agree(value: float) -> float:
    """Rank 0's value on every rank (a broadcast), so that time budgets stop all ranks at the same step."""
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_device())
    dist.broadcast(t, 0)
    return t.item()


def setup(args: argparse.Namespace, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Joins torchrun's job if there is one, seeds everything (alike on every rank, so the models start equal),
    fills in defaults, and returns the training images ([N,1,28,28] in [0,1]) and labels."""
    args.rank, args.world, args.device = distributed(args.device)
    torch.manual_seed(args.seed)
    args.name = args.name or name
    args.out = Path(args.out or Path("checkpoints") / name)
    args.state = Path(args.run_dir) / f"{name}.pt"
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    x, y = data.load(args.dataset, "train", args.data, args.data_root)
    return to_float(x).to(args.device), torch.as_tensor(y).long().to(args.device)


def oversample(x: torch.Tensor, y: torch.Tensor, cls: int, factor: float,
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set with class `cls` repeated `factor` times (a fractional part: a fixed random subset), so
    that D sees more of a class that G draws too rarely (Fashion's Shirt, between T-shirt, Pullover and Coat)."""
    idx = torch.nonzero(y == cls).squeeze(1).cpu()
    extra = round((factor - 1) * len(idx))
    perm = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))]
    keep = torch.cat([torch.arange(len(y)), perm.repeat(-(-extra // max(1, len(idx))))[:extra]]).to(y.device)
    return x[keep], y[keep]


def batches(n: int, batch: int, device: str, seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Index batches of one epoch, shuffled reproducibly, dropping the ragged last batch.

    Under torchrun each rank takes every world-th index of the same permutation (like DistributedSampler): disjoint
    shards of equal size, so every rank takes the same number of steps."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 10_000 + epoch)).to(device)
    perm = perm[rank()::world()][:n // world()]
    for i in range(0, len(perm) - batch + 1, batch):
        yield perm[i:i + batch]


class Clock:
    """Wall time spent training, carried across resumes, with the optional budget of --max-minutes.

    `spent`: seconds so far, an --init model's included (the card's total); `base`: the seconds this run started at.
    The budget counts this run's time across resumes, so the same command, run again after an interruption, stops
    (and a time-based cosine reaches 0) where the uninterrupted run would have."""

    def __init__(self, spent: float = 0.0, max_minutes: float | None = None, base: float | None = None):
        self.spent, self.start, self.limit = spent, time.time(), max_minutes
        self.base = spent if base is None else base  # a run (or an --init continuation) starts its budget here

    @classmethod
    def resume(cls, state: dict, max_minutes: float | None) -> Clock:
        """The clock of a saved state; states saved before the budget spanned resumes restart it."""
        return cls(state["seconds"], max_minutes, state.get("base_seconds"))

    def state(self) -> dict:
        """What save_state keeps, for resume."""
        return {"seconds": self.seconds, "base_seconds": self.base}

    @property
    def seconds(self) -> float:
        return self.spent + time.time() - self.start

    def fraction(self) -> float:
        """How much of this run's time budget is used (0 without one); rank 0's clock under torchrun."""
        return 0.0 if self.limit is None else agree(self.seconds - self.base) / (60 * self.limit)

    def out_of_time(self) -> bool:
        return self.fraction() > 1


def save_state(path: Path, **state) -> None:
    """Resumable state (weights, optimiser, counters); never shipped, loaded with weights_only=True.

    Rank 0 alone writes it; no barrier is needed, as every rank holds the same weights after each step."""
    if not is_main():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, str(path) + ".tmp")
    Path(str(path) + ".tmp").replace(path)


def load_optimizer(opt: torch.optim.Optimizer, saved: dict, *lrs: float) -> None:
    """Resume an optimiser's state, with the command line's learning rates (one per parameter group) winning over
    the saved ones: a resumed run can lower them for its last stretch."""
    opt.load_state_dict(saved)
    for g, lr in zip(opt.param_groups, lrs, strict=True):
        g.pop("initial_lr", None)  # a new LR scheduler starts from the new rate
        g["lr"] = lr


def load_state(path: Path) -> dict | None:
    """The state save_state wrote, or None. Under torchrun rank 0 reads it and sends it to every rank (a collective:
    all resume alike, other machines need not see runs/, and no rank overwrites it before all have it)."""
    state = torch.load(path, map_location="cpu", weights_only=True) if is_main() and path.exists() else None
    if dist.is_initialized():
        box = [state]
        dist.broadcast_object_list(box, 0)
        state = box[0]
    return state


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
        return f"{world()}x {torch.cuda.get_device_name(0)}"
    n = torch.get_num_threads()
    cpu = f"CPU ({platform.processor() or platform.machine()}, {n} thread{'s' if n != 1 else ''})"
    return cpu if world() == 1 else f"{world()} processes on {cpu}"


def command() -> str:
    """How this run was started: python, or torchrun with its processes."""
    if world() == 1:
        return "python " + " ".join(sys.argv)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world()))
    nodes = f"--nnodes {world() // per_node} " if world() > per_node else ""
    return f"torchrun {nodes}--nproc_per_node {per_node} " + " ".join(sys.argv)


def continued_from(prev: dict, unit: str, done: int) -> dict:
    """A run started with --init from a model whose training.json is `prev` (`done` steps or epochs into it): the
    earlier run(s), for the new card, so that it names every machine that trained the model."""
    first = f"first_{unit.rstrip('s')}_of_this_run"
    earlier = f"{unit} {prev.get(first, 0)}-{done} on {prev['hardware']}: {prev['command']}"
    return {"continued_from": " then ".join(filter(None, [prev.get("continued_from"), earlier])), first: done}


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
                "command": command(), **info}
    if "bf16" in args:  # the scripts that train under autocast(args)
        training["precision"] = "bfloat16 autocast" if args.bf16 or args.device.startswith("cuda") else "float32"
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
    if t.get("ablation"):  # what each change of the recipe bought, measured one change at a time
        lines += ["", "What each change bought (FID as `gen.evaluate` measures it, one set of 5,000 z for all rows):",
                  "", "| model | FID |", "|---|---|"]
        lines += [f"| {a['model']} | {a['fid']:.1f} |" for a in t["ablation"]]
    lines += ["", "## Measured", ""]
    if m is None:
        lines.append("Not evaluated yet: run `python -m gen.evaluate --model " + t["name"] + " --write`.")
    else:
        cmd = m.get("command", f"python -m gen.evaluate --model {t['name']} --write")
        lines += [f"Measured with `{cmd}` ({m['n_samples']} samples).", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {v:.4g} |" if isinstance(v, float) else f"| {k.replace('_', ' ')} | {v} |"
                  for k, v in m.items()
                  if k not in ("class_histogram", "model", "command", "guidance_curve", "samplers")]
        if "guidance_curve" in m:  # classifier-free guidance: what a larger w buys (accuracy) and costs (diversity)
            c = m["guidance_curve"]
            lines += ["", "Guidance weight w against quality (same sampler and seed; w = 0: the conditional model):",
                      "", "| w | guided while | samples | FID | real vs real | conditional accuracy | rarest class |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {p['w']:g} | {p.get('guided_while', 'every step')} | {p['n_samples']} | {p['fid']:.2f} "
                      f"| {p['fid_real_vs_real']:.2f} | {p['conditional_accuracy']:.1%} "
                      f"| {p['min_class_fraction']:.1%} |" for p in c]
        if "samplers" in m:  # DDPM: the same network through other chains (the app samples with DDIM)
            lines += ["", "The same weights through other samplers (same seed, FID against the test set):", "",
                      "| sampler | samples | FID | real vs real | rarest class | command |", "|---" * 6 + "|"]
            lines += [f"| {r['sampler']} | {r['n_samples']} | {r['fid']:.2f} | {r['fid_real_vs_real']:.2f} "
                      f"| {r['min_class_fraction']:.1%} | `{r.get('command', cmd)}` |" for r in [m, *m["samplers"]]]
        if "class_histogram" in m:
            lines += ["", "Class histogram of the samples (by the classifier):", "",
                      "| " + " | ".join(m["class_histogram"]) + " |", "|" + "---|" * len(m["class_histogram"]),
                      "| " + " | ".join(f"{v:.1%}" for v in m["class_histogram"].values()) + " |"]
    lines += ["", "Files: `config.json` (constructor arguments), `model.safetensors` (weights), `training.json` "
              f"(this run's settings and per-epoch log). Load with `gen.hub.load(\"{t['name']}\")`.", ""]
    (folder / "README.md").write_text("\n".join(lines))
