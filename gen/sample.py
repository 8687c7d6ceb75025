"""Sampling any model by name: `python -m gen.sample --model vae2-mnist --n 1000 --seed 0 --out samples.npz`."""
from __future__ import annotations

import argparse

import numpy as np
import torch

from gen import diffusion, hub
from gen.images import to_uint8
from gen.latent import seed_to_z


def family(name: str) -> str:
    return name.split("-")[0].rstrip("0123456789")  # "vae16-mnist" -> "vae"


@torch.no_grad()
def generate(name: str, n: int, seed: int = 0, sampler: str = "ddim", steps: int = 50,
             device: str = "cpu", batch: int = 1000, eta: float = 0.0) -> np.ndarray:
    """n prior samples of model `name` as uint8 [n,28,28]; the same seed gives the same images.
    DDPM models: `sampler` "ddpm" is Algorithm 2 (T steps), "ddim" DDIM with `steps` steps and `eta`."""
    model = hub.load(name).to(device)
    fam, out = family(name), []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        if fam in ("vae", "ae"):
            z = seed_to_z(seed * 1_000_003 + i, model.latent_dim, m).to(device)
            out.append(to_uint8(model.decode(z)))
        elif fam == "gan":
            z = seed_to_z(seed * 1_000_003 + i, model.z_dim, m).to(device)
            out.append(to_uint8(model(z), signed=True))
        elif fam == "ddpm":
            sch = diffusion.make_schedule(model.schedule, model.T)
            x_T = diffusion.noise((m, 1, 28, 28), seed * 1_000_003 + i).to(device)
            x0 = (diffusion.ddim_sample(model, sch, x_T, steps, eta, seed * 1_000_003 + i) if sampler == "ddim"
                  else diffusion.sample(model, sch, x_T, seed * 1_000_003 + i))
            out.append(to_uint8(x0, signed=True))
        else:
            raise ValueError(f"{name} is not a generative model")
    return np.concatenate(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, choices=[k for k in hub.REGISTRY if not k.startswith("classifier")
                                                       and not k.endswith("-D")])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=["ddim", "ddpm"], default="ddim", help="DDPM models only")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps S")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 stochastic like Algorithm 2")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="samples.npz")
    a = p.parse_args()
    images = generate(a.model, a.n, a.seed, a.sampler, a.steps, a.device, eta=a.eta)
    np.savez_compressed(a.out, images=images)
    print(f"wrote {len(images)} samples of {a.model} to {a.out}")


if __name__ == "__main__":
    main()
