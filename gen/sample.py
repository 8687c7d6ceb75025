"""Sampling any model by name: `python -m gen.sample --model vae2-mnist --n 1000 --seed 0 --out samples.npz`.

Conditional models take `--label 7` (every sample a 7) or `--label all` (balanced: 0, 1, ..., 9, 0, ...), and
diffusion ones a classifier-free guidance weight `--guidance w`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from gen import diffusion, hub
from gen.images import to_uint8
from gen.latent import seed_to_z


def family(name: str) -> str:
    """"vae", "ae", "gan" or "ddpm", from the registry."""
    return hub.REGISTRY[name].family


def requested_labels(name: str, n: int, label: int | str | None = "all") -> np.ndarray | None:
    """The class asked of each of n samples of a conditional model (None for an unconditional one):
    one class for all, or "all"/None for a balanced 0..9 cycle."""
    if not hub.REGISTRY[name].conditional:
        if label not in (None, "all"):
            raise ValueError(f"{name} is not conditional: it takes no label")
        return None
    if label in (None, "all"):
        return np.arange(n) % 10
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a class 0..9 or 'all', got {label}")
    return np.full(n, int(label))


def shipped_guidance(name: str, sampler: str = "ddim") -> tuple[float, int | None]:
    """The guidance (w, t_max) DDPM `name` is sampled with by `sampler` ("ddpm": Algorithm 2, or "ddim"): a
    conditional model's classifier-free guidance on every chain; an unconditional one's autoguidance, measured per
    chain (hub.Entry.chain_guidance for Algorithm 2; none there: the lecture's Algorithm 2, unguided)."""
    e = hub.REGISTRY[name]
    if sampler == "ddpm" and e.weak:
        return e.chain_guidance or (0.0, None)
    return e.guidance, e.guidance_t_max


def autoguiding(name: str, sampler: str, w: float) -> str | None:
    """The weak model that autoguides unconditional DDPM `name` at weight w, or None (w = 0, a conditional model or
    none in the registry)."""
    e = hub.REGISTRY[name]
    return e.weak if not e.conditional and w else None


def sampler_label(name: str, sampler: str = "ddim", steps: int = 50, eta: float = 0.0, w: float | None = None,
                  t_max: int | None | str = "shipped", bf16: bool = False) -> str:
    """A DDPM chain as metrics.json names it ("ddpm", "ddim-50, eta 1", "ddim-50, autoguidance w 0.5 while t <= 400",
    ", bf16" added); the defaults are generate's, the chain the app samples with."""
    w = shipped_guidance(name, sampler)[0] if w is None else w
    t_max = guidance_t_max(name, t_max, sampler)
    auto = (f", autoguidance w {w:g}" + ("" if t_max is None else f" while t <= {t_max}")
            if autoguiding(name, sampler, w) else "")
    chain = sampler if sampler == "ddpm" else f"ddim-{steps}" + (f", eta {eta:g}" if eta else "")
    return chain + auto + (", bf16" if bf16 else "")


def eps_in_chunks(model: torch.nn.Module, chunk: int, bf16: bool = False):
    """eps_theta(x_t, t[, y]) evaluated `chunk` images at a time, optionally under bfloat16 autocast. On a CPU,
    chunks of 64 stay in cache: 2.6x faster than 1000 at once, and bf16 about 2.3x faster again (bench/compute.py)."""
    def eps(x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(x_t.device.type, dtype=torch.bfloat16, enabled=bf16):
            return torch.cat([model(x_t[i:i + chunk], t[i:i + chunk], *(() if y is None else (y[i:i + chunk],)))
                              .float() for i in range(0, len(x_t), chunk)])
    return eps


def cache_key(model: torch.nn.Module, **settings) -> str:
    """Names one model's weights and the sampling settings: a cached batch is reused only for exactly these."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode()), h.update(v.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def generate(name: str, n: int, seed: int = 0, sampler: str = "ddim", steps: int = 50,
             device: str = "cpu", batch: int = 1000, eta: float = 0.0, bf16: bool = False,
             label: int | str | None = "all", guidance: float | None = None,
             t_max: int | None | str = "shipped", cache: str | Path | None = None) -> np.ndarray:
    """n prior samples of model `name` as uint8 [n,28,28]; the same seed gives the same images.
    DDPM models: `sampler` "ddpm" is Algorithm 2 (T steps), "ddim" DDIM with `steps` steps and `eta`;
    `bf16` runs the U-Net under bfloat16 autocast. Conditional models: `label` (see requested_labels) and, for
    diffusion, the guidance weight w and the largest t it is applied at, `t_max` (defaults: the registry's; None:
    every step); an unconditional DDPM with a weak model in the registry takes them for its autoguidance (w = 0:
    off). `cache`: a folder that keeps each finished batch, so that a long run (Algorithm 2 for 5,000
    samples: 1.5 h on 2 CPU cores) cut short picks up where it stopped; each batch has its own seed, so the result is
    the same as one uninterrupted run."""
    model = hub.load(name).to(device)
    fam, out = family(name), []
    ys = requested_labels(name, n, label)
    w = shipped_guidance(name, sampler)[0] if guidance is None else guidance
    weak = (weak_name := autoguiding(name, sampler, w)) and hub.load(weak_name).to(device)
    t_max = guidance_t_max(name, t_max, sampler)
    key = cache and cache_key(model, sampler=sampler if fam == "ddpm" else None, steps=steps, eta=eta, bf16=bf16,
                              seed=seed, batch=batch, label=label, w=w, t_max=t_max, device=device)
    for i in range(0, n, batch):
        m = min(batch, n - i)
        f = Path(cache) / f"{name}-{key}-{i}-{m}.npy" if cache else None
        if f and f.exists():
            out.append(np.load(f))
            continue
        y = None if ys is None else torch.as_tensor(ys[i:i + m]).long().to(device)
        if fam in ("vae", "ae"):
            z = seed_to_z(seed * 1_000_003 + i, model.latent_dim, m).to(device)
            out.append(to_uint8(model.decode(z)))
        elif fam == "gan":
            z = seed_to_z(seed * 1_000_003 + i, model.z_dim, m).to(device)
            out.append(to_uint8(model(z) if y is None else model(z, y), signed=True))
        elif fam == "ddpm":
            sch = diffusion.make_schedule(model.schedule, model.T)
            chunk = 64 if device == "cpu" else batch
            eps = eps_in_chunks(model, chunk, bf16)
            if y is not None:
                eps = diffusion.Guidance(eps, y, w, model.null_class, t_max=t_max)
            elif weak:
                eps = diffusion.AutoGuidance(eps, eps_in_chunks(weak, chunk, bf16), w, t_max)
            x_T = diffusion.noise((m, 1, 28, 28), seed * 1_000_003 + i).to(device)
            x0 = (diffusion.ddim_sample(eps, sch, x_T, steps, eta, seed * 1_000_003 + i) if sampler == "ddim"
                  else diffusion.sample(eps, sch, x_T, seed * 1_000_003 + i))
            out.append(to_uint8(x0, signed=True))
        else:
            raise ValueError(f"{name} is not a generative model")
        if f:  # written whole or not at all
            f.parent.mkdir(parents=True, exist_ok=True)
            np.save(f.with_suffix(".tmp.npy"), out[-1])
            f.with_suffix(".tmp.npy").replace(f)
    return np.concatenate(out)


def guidance_t_max(name: str, t_max: int | None | str = "shipped", sampler: str = "ddim") -> int | None:
    """The largest t guided at: the model's shipped one on `sampler` for "shipped", else as given (None: every
    step)."""
    return shipped_guidance(name, sampler)[1] if t_max == "shipped" else t_max


def add_t_max(p: argparse.ArgumentParser) -> None:
    """--guidance-t-max, shared with gen.evaluate."""
    def parse(v: str) -> int | None | str:
        return v if v == "shipped" else None if v.lower() in ("none", "all") else int(v)
    p.add_argument("--guidance-t-max", type=parse, default="shipped", help="conditional DDPMs: guide only while "
                   "t <= this, 'all': at every step (default: the model's shipped interval)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=hub.generators())
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=["ddim", "ddpm"], default="ddim", help="DDPM models only")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps S")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 stochastic like Algorithm 2")
    p.add_argument("--bf16", action="store_true", help="DDPM models: U-Net under bfloat16 autocast (faster on CPU)")
    p.add_argument("--label", "--labels", default="all", help="conditional models: a class 0..9, or 'all' (balanced)")
    p.add_argument("--guidance", type=float, default=None, help="conditional DDPMs: guidance weight w (0: the "
                   "conditional model, -1: the unconditional one); unconditional DDPMs: their autoguidance weight "
                   "(0: off); default: the model's shipped w on this sampler")
    add_t_max(p)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="samples.npz")
    p.add_argument("--cache", default=None, help="keep each finished batch in this folder; run again to resume")
    a = p.parse_args()
    images = generate(a.model, a.n, a.seed, a.sampler, a.steps, a.device, eta=a.eta, bf16=a.bf16, label=a.label,
                      guidance=a.guidance, t_max=a.guidance_t_max, cache=a.cache)
    labels = requested_labels(a.model, a.n, a.label)
    np.savez_compressed(a.out, images=images, **({} if labels is None else {"labels": labels}))
    print(f"wrote {len(images)} samples of {a.model} to {a.out}")


if __name__ == "__main__":
    main()
