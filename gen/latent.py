"""Latent-space helpers shared by the VAE and GAN labs: seeds, interpolation."""
from __future__ import annotations

import torch


def seed_to_z(seed: int, dim: int, n: int = 1) -> torch.Tensor:
    """z ~ N(0, I) drawn on the CPU from a generator seeded with `seed`: the same on every machine."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(n, dim, generator=g)


def seeds_to_z(seeds: list[int], dim: int) -> torch.Tensor:
    """One z per seed, each exactly seed_to_z(seed): seed s names one image wherever it appears."""
    return torch.cat([seed_to_z(s, dim) for s in seeds])


def lerp(z0: torch.Tensor, z1: torch.Tensor, n: int) -> torch.Tensor:
    """n points on the straight line from z0 to z1 (inclusive)."""
    w = torch.linspace(0, 1, n).unsqueeze(1)
    return (1 - w) * z0 + w * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, n: int) -> torch.Tensor:
    """n points on the great circle from z0 to z1: keeps the norm typical of N(0, I) samples."""
    w = torch.linspace(0, 1, n).unsqueeze(1)
    omega = torch.arccos(torch.clamp(torch.dot(z0 / z0.norm(), z1 / z1.norm()), -1, 1))
    if omega.abs() < 1e-4:
        return lerp(z0, z1, n)
    return (torch.sin((1 - w) * omega) * z0 + torch.sin(w * omega) * z1) / torch.sin(omega)
