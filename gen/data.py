"""MNIST / Fashion-MNIST from torchvision (downloads when online) or a Keras-layout .npz."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

DATASETS = {"mnist": "MNIST", "fashion": "FashionMNIST"}
CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"],
}
ASSETS = Path(__file__).parent / "assets"


def load(dataset: str, split: str = "train", npz: str | Path | None = None,
         root: str | Path = "data") -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N,28,28] (0 = background) and labels uint8 [N].

    `npz`: a Keras-layout file (x_train y_train x_test y_test). Otherwise torchvision's
    dataset under `root`, downloaded if missing.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {list(DATASETS)}")
    if npz is not None:
        with np.load(npz) as f:
            return f[f"x_{split}"], f[f"y_{split}"].astype(np.uint8)
    import torchvision  # only needed on this path

    ds = getattr(torchvision.datasets, DATASETS[dataset])(root, train=split == "train", download=True)
    return ds.data.numpy(), ds.targets.numpy().astype(np.uint8)


@cache
def test_sample(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The 2,000 test images shipped with the app (the first 2,000 of the test split), read once (read-only: every
    tab's slider reads them, decompressing the file took half of a DDPM forward-process event)."""
    with np.load(ASSETS / f"{dataset}-test-2000.npz") as f:
        x, y = f["x"], f["y"]
    x.setflags(write=False), y.setflags(write=False)
    return x, y


@cache
def test_count(dataset: str) -> int:
    """How many test images ship for a dataset (the one source for 'test image 0 ... n-1')."""
    return len(test_sample(dataset)[0])


def test_index(dataset: str, i: float) -> int:
    """A test image number as typed (or linked) -> one that exists: clamped to 0 ... test_count - 1, the rule of
    every tab."""
    return min(max(int(i), 0), test_count(dataset) - 1)


def train_sample(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """10,000 training images shipped for the memorisation check (all of MNIST's here, 1/6 of Fashion-MNIST's)."""
    with np.load(ASSETS / f"{dataset}-train-10000.npz") as f:
        return f["x"], f["y"]
