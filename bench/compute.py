"""Compute latency of the lab's hot paths on this CPU: python bench/compute.py [--threads 2].

Prints medians; these are benchmark figures, not tests.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from gen import diffusion, hub
from gen.latent import seed_to_z, seeds_to_z
from gen.sample import eps_in_chunks
from gen.unet import UNet, bf16_sampling_default


def median_ms(fn: Callable[[], object], n: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


@torch.no_grad()
def film_round_ms(n: int, t: int) -> float:
    """One round of the film engine over n films of distinct seeds at step t of ddpm-fashion's shipped chain."""
    from gen.chain import Chain, Film, step_round
    from gen.ui import ddpm_tab
    films = []
    for k in range(n):
        c = Chain("Fashion-MNIST", 1000 + k, t, diffusion.noise((1, 1, 28, 28), k))
        films.append(f := Film(k, c))
        f._shots = ddpm_tab._film_shots(c, "beta", 1, "none", 1.0, None, f)
    return median_ms(lambda: step_round(films, 64), 30, 5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ch", type=int, default=None, help="time an untrained U-Net of this width instead of the "
                   "shipped ddpm-mnist: does a wider model fit the step budget before it is trained?")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    vae = hub.load("vae2-mnist")
    z = torch.zeros(1, 2)
    print(f"VAE decode, 1 image:                {median_ms(lambda: vae.decode(z), 200):8.2f} ms  (target <= 5)")
    G = hub.load("gan-mnist")
    print(f"GAN 16-seed grid (z + G):           "
          f"{median_ms(lambda: G(seeds_to_z(list(range(16)), G.z_dim)), 100):8.2f} ms  (target <= 50)")
    print(f"GAN one seed (z + G):               {median_ms(lambda: G(seed_to_z(42, G.z_dim)), 100):8.2f} ms")
    m = hub.load("ddpm-mnist")
    if a.ch:  # the same U-Net, wider, with random weights: the cost of a step does not depend on what it learnt
        m = UNet(**{**hub.read_json("ddpm-mnist", "config.json"), "ch": a.ch}).eval()
        print(f"U-Net: ch {a.ch}, {sum(q.numel() for q in m.parameters()) / 1e6:.2f} M parameters, untrained")
    sch = diffusion.schedule_of(m)
    x = diffusion.noise((1, 1, 28, 28), 0)
    zeros = torch.zeros_like(x)
    x20 = diffusion.noise((20, 1, 28, 28), 0)
    x16 = diffusion.noise((16, 1, 28, 28), 0)
    print(f"the app samples its U-Nets under bf16 autocast on this CPU: {'yes' if bf16_sampling_default() else 'no'}")
    for bf16 in (False, True):
        UNet.bf16_sampling = bf16
        kind = "bf16" if bf16 else "fp32"
        print(f"DDPM one step, 1 image, {kind}:       "
              f"{median_ms(lambda: diffusion.p_sample(m, x, 500, sch, zeros), 200):8.2f} ms  (target <= 10)")
        print(f"DDPM one step, 20 chains, {kind}:     "
              f"{median_ms(lambda: diffusion.p_sample(m, x20, 500, sch, 0 * x20), 50):8.2f} ms  (a class's films)")
        print(f"DDPM full chain T=1000, 1 image, {kind}: "
              f"{median_ms(lambda: diffusion.sample(m, sch, x, 0), 3, 1) / 1000:5.2f} s   (target <= 10)")
        print(f"DDIM 50 steps, 16 images, {kind}:     "
              f"{median_ms(lambda: diffusion.ddim_sample(m, sch, x16, 50), 5, 1) / 1000:8.2f} s   (target <= 3)")
    UNet.bf16_sampling = bf16_sampling_default()  # the guided figures below as the app runs them
    # classifier-free guidance: eps_theta(x_t, t, y) and eps_theta(x_t, t, null) as one doubled batch or two passes
    c = hub.load("ddpm-cond-mnist")
    for n in (1, 16):
        xn, y = diffusion.noise((n, 1, 28, 28), 0), torch.full((n,), 7)
        for batched in (True, False):
            g = diffusion.Guidance(c, y, 2.0, c.null_class, batched)
            ms = median_ms(lambda g=g, xn=xn: diffusion.p_sample(g, xn, 500, sch, torch.zeros_like(xn)), 100)
            print(f"guided step, {n:2d} image(s), {'one batched pass' if batched else 'two passes':16s} {ms:8.2f} ms"
                  + ("  (target <= 10)" if n == 1 else ""))
    xg = diffusion.noise((16, 1, 28, 28), 0)
    g16 = diffusion.Guidance(c, torch.full((16,), 7), 2.0, c.null_class)
    print(f"guided DDIM 50 steps, 16 images:    "
          f"{median_ms(lambda: diffusion.ddim_sample(g16, sch, xg, 50), 5, 1) / 1000:8.2f} s   (target <= 3)")
    # autoguidance (the app's DDIM): every guided step adds a pass of the weak U-Net (Fashion-MNIST: at every step)
    weak = hub.load(hub.REGISTRY["ddpm-mnist"].weak)
    ag = diffusion.AutoGuidance(m, weak, 0.5)  # guided at every step: the upper bound of its cost
    print(f"autoguided step, 1 image:           "
          f"{median_ms(lambda: diffusion.p_sample(ag, x, 500, sch, zeros), 200):8.2f} ms  (target <= 10)")
    print(f"autoguided DDIM 50 steps, 16 images: "
          f"{median_ms(lambda: diffusion.ddim_sample(ag, sch, x16, 50), 5, 1) / 1000:7.2f} s   (target <= 3)")
    # the film engine (gen.chain) stepping a class's Plays of distinct chains: every film one step per round, each
    # model's calls of the round as one batch (in the guided steps: eps_theta's, then the weak U-Net's)
    for t0 in (600, 250):
        print(f"film engine, 20 Fashion films at t {t0}: {film_round_ms(20, t0):8.2f} ms per round"
              + ("  (autoguided: + the weak U-Net)" if t0 <= 250 else ""))
    # gen.sample / gen.evaluate: a batch of 1000 through the U-Net at once, or in cache-sized chunks
    UNet.bf16_sampling = False  # here eps_in_chunks' own bf16 flag is what is compared
    x1k, t1k = diffusion.noise((1000, 1, 28, 28), 0), torch.full((1000,), 500)
    for label, eps in [("at once", m), ("chunks of 64", eps_in_chunks(m, 64)),
                       ("chunks of 64, bf16", eps_in_chunks(m, 64, bf16=True))]:
        ms = median_ms(lambda f=eps: f(x1k, t1k), 3, 1) / 1000
        print(f"U-Net per image, batch 1000, {label + ':':19s}{ms:6.2f} ms")


if __name__ == "__main__":
    main()
