"""The three families side by side: timed sampling, their measured figures, the memorisation check."""
from __future__ import annotations

import time
from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from gen import data, hub
from gen.sample import generate

# The model that stands for each family on a dataset (the sharper 16-D VAE; DDPM sampled with DDIM-50).
FAMILIES = {"VAE": "vae16-{}", "GAN": "gan-{}", "DDPM": "ddpm-{}"}


class Timed(NamedTuple):
    images: np.ndarray  # uint8 [n,28,28]
    seconds: float


def sample_timed(name: str, n: int, seed: int, steps: int = 50) -> Timed:
    """n samples and the wall time it took on this machine (the model is loaded beforehand)."""
    hub.load(name)
    t = time.perf_counter()
    with torch.no_grad():
        images = generate(name, n, seed, sampler="ddim", steps=steps)
    return Timed(images, time.perf_counter() - t)


class Neighbours(NamedTuple):
    index: np.ndarray  # [k] indices into data.train_sample
    distance: np.ndarray  # [k] Euclidean pixel distance (0..255 scale, over 784 pixels)
    typical: float  # the median nearest-neighbour distance of real test images to the same training set


def nearest_training(image: np.ndarray, dataset: str, k: int = 5) -> Neighbours:
    """A sample's k nearest training images: near 0 means copied; as far as real test images means new."""
    x, _ = data.train_sample(dataset)
    train = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32)
    d = torch.cdist(torch.as_tensor(image.reshape(1, -1), dtype=torch.float32), train)[0]
    dist, idx = d.topk(k, largest=False)
    return Neighbours(idx.numpy(), dist.numpy(), typical_distance(dataset))


@cache
def typical_distance(dataset: str) -> float:
    """Median distance of 200 real test images to their nearest training image: the 'new, not copied' scale."""
    x, _ = data.train_sample(dataset)
    test, _ = data.test_sample(dataset)
    train = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32)
    ref = torch.cdist(torch.as_tensor(test[:200].reshape(200, -1), dtype=torch.float32), train).min(1).values
    return float(ref.median())
