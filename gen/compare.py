"""The three families side by side: timed sampling, their measured figures, the memorisation check."""
from __future__ import annotations

import time
from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from gen import data, hub
from gen.sample import generate

# The model that stands for each family on a dataset (the sharper 16-D VAE; DDPM sampled with DDIM-50), and its
# class-conditional counterpart (none for the VAE: a conditional VAE is not part of the lecture).
FAMILIES = {"VAE": "vae16-{}", "GAN": "gan-{}", "DDPM": "ddpm-{}"}
CONDITIONAL = {"GAN": "cgan-{}", "DDPM": "ddpm-cond-{}"}


def model_for(family: str, dataset: str, conditional: bool = False) -> str | None:
    """The model shown for a family: None when the family has no conditional model."""
    pattern = (CONDITIONAL if conditional else FAMILIES).get(family)
    return pattern.format(dataset) if pattern else None


class Timed(NamedTuple):
    images: np.ndarray  # uint8 [n,28,28]
    seconds: float


def sample_timed(name: str, n: int, seed: int, steps: int = 50, label: int | str = "all") -> Timed:
    """n samples (of class `label`, for a conditional model) and the wall time it took on this machine (the model
    is loaded beforehand)."""
    hub.load(name)
    t = time.perf_counter()
    with torch.no_grad():
        images = generate(name, n, seed, sampler="ddim", steps=steps, label=label)
    return Timed(images, time.perf_counter() - t)


def classify(images: np.ndarray, dataset: str) -> np.ndarray:
    """The FID classifier's label for each uint8 image: which class did a conditional model draw?"""
    from gen.evaluate import features_and_labels

    return features_and_labels(hub.load(f"classifier-{dataset}"), images)[1]


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


# Relative to real test images' typical distance: nearer than COPY x it is a copy, farther than NEW x it is new.
COPY, NEW = 0.5, 0.8


def memorisation(nb: Neighbours) -> str:
    """The memorisation check's verdict on a sample's nearest training images, on the scale of real test images:
    'copy' (under half their typical distance), 'new' (over 0.8 of it) or 'close' (in between)."""
    d = float(nb.distance[0])
    return "copy" if d < COPY * nb.typical else "new" if d > NEW * nb.typical else "close"


@cache
def typical_distance(dataset: str) -> float:
    """Median distance of 200 real test images to their nearest training image: the 'new, not copied' scale."""
    x, _ = data.train_sample(dataset)
    test, _ = data.test_sample(dataset)
    train = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32)
    ref = torch.cdist(torch.from_numpy(test[:200].reshape(200, -1).astype(np.float32)), train).min(1).values
    return float(ref.median())
