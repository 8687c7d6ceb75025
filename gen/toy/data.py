"""2-D toy data sets of the training playground, and how close a cloud of samples is to them."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

R = 3.0  # every view shows [-R, R]^2
RING_RADIUS, RING_STD = 2.0, 0.1

DATASETS = ("ring", "moons", "spiral", "checkerboard", "gaussian", "drawn")
LABELS = {"ring": "8 Gaussians (ring)", "moons": "two moons", "spiral": "swiss roll", "checkerboard": "checkerboard",
          "gaussian": "one Gaussian", "drawn": "your drawing"}


class ToyData(NamedTuple):
    x: torch.Tensor  # [N, 2] float32 points
    key: np.ndarray  # [N] in [0, 1): a colour key that follows the data's structure (mode, position along)
    name: str


def ring_centres() -> np.ndarray:
    a = 2 * np.pi * np.arange(8) / 8
    return RING_RADIUS * np.stack([np.cos(a), np.sin(a)], 1)


def make_data(name: str, n: int = 2000, seed: int = 0, points: Sequence[Sequence[float]] | None = None,
              spread: float = 0.15) -> ToyData:
    """N points of a built-in 2-D distribution (or of `points` jittered by N(0, spread^2) for 'drawn'), seeded.

    Raises ValueError with a message meant for the user.
    """
    n = int(n)
    if not 16 <= n <= 100_000:
        raise ValueError(f"N must be between 16 and 100000 points, got {n}")
    rng = np.random.default_rng(int(seed))
    if name == "ring":  # 8 Gaussians on a circle: the classic mode-collapse test
        k = rng.integers(0, 8, n)
        x = ring_centres()[k] + RING_STD * rng.standard_normal((n, 2))
        key = k / 8
    elif name == "moons":
        u = rng.random(n)
        upper = rng.random(n) < 0.5
        a = np.pi * u
        x = np.where(upper[:, None], np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1))
        x = (x - [0.5, 0.25]) * 1.6 + 0.08 * rng.standard_normal((n, 2))
        key = np.where(upper, 0.5 * u, 0.5 + 0.5 * u)
    elif name == "spiral":  # the 2-D swiss roll
        u = rng.random(n)
        t = 1.5 * np.pi * (1 + 2 * u)
        x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5.5 + 0.06 * rng.standard_normal((n, 2))
        key = u * 0.85
    elif name == "checkerboard":  # 8 of the 16 unit cells of [-2, 2]^2
        cells = np.array([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0])
        c = rng.integers(0, len(cells), n)
        x = cells[c] - 2 + rng.random((n, 2))
        key = c / len(cells)
    elif name == "gaussian":  # one anisotropic Gaussian, off the origin
        rot = np.array([[math.cos(0.6), -math.sin(0.6)], [math.sin(0.6), math.cos(0.6)]])
        x = (rng.standard_normal((n, 2)) * [0.8, 0.3]) @ rot.T + [0.5, 0.4]
        key = (np.arctan2(x[:, 1] - 0.4, x[:, 0] - 0.5) / (2 * np.pi)) % 1
    elif name == "drawn":
        p = np.asarray(points if points is not None else [], dtype=np.float64).reshape(-1, 2)
        if len(p) == 0:
            raise ValueError("Draw some points first: click on the canvas in the 'Your own data' tab.")
        i = rng.integers(0, len(p), n)
        x = p[i] + float(spread) * rng.standard_normal((n, 2))
        key = i / len(p) * 0.85
    else:
        raise ValueError(f"unknown data set {name!r}; pick one of {', '.join(DATASETS)}")
    return ToyData(torch.tensor(x, dtype=torch.float32), np.asarray(key, dtype=np.float64), name)


def nn_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Mean distance from each point of a to its nearest neighbour in b."""
    a, b = (torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v.float() for v in (a, b))
    return float(torch.cdist(a, b).min(1).values.mean())  # (copies: a shared chain is read-only)


def chamfer(samples: torch.Tensor | np.ndarray, data: torch.Tensor | np.ndarray) -> float:
    """Symmetric mean nearest-neighbour distance: small when samples lie on the data AND cover it."""
    return 0.5 * (nn_distance(samples, data) + nn_distance(data, samples))


class Coverage(NamedTuple):
    modes: int  # ring modes holding at least 2% of the samples (12.5% each when perfect)
    good: float  # fraction of samples within 3 std of some mode
    share: np.ndarray  # [8] fraction of samples at each mode


def ring_coverage(points: torch.Tensor | np.ndarray) -> Coverage:
    """Mode coverage on the 8-Gaussians ring: how many modes the samples reach, and how many samples are on one."""
    p = np.asarray(points, dtype=np.float64)
    d = np.linalg.norm(p[:, None] - ring_centres()[None], axis=2)
    near = d.min(1) < 3 * RING_STD
    share = np.bincount(d.argmin(1)[near], minlength=8) / max(1, len(p))
    return Coverage(int((share >= 0.02).sum()), float(near.mean()), share)
