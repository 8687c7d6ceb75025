"""DCGAN-style generator and discriminator for 28x28 images in [-1,1] (lecture section 3)."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from gen import data
from gen.images import to_float, to_uint8
from gen.latent import lerp, seed_to_z, seeds_to_z, slerp


class Generator(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["gan", "genlab"]):
    """G: z ~ N(0, I) -> image in [-1, 1]; with num_classes > 0, G(z, y): y's learned embedding is concatenated to z
    (the conditional GAN of Mirza & Osindero 2014)."""

    def __init__(self, z_dim: int = 64, width: int = 64, dataset: str = "mnist", num_classes: int = 0,
                 deep: bool = False):
        super().__init__()
        self.z_dim, self.dataset, self.num_classes = z_dim, dataset, num_classes
        if num_classes:
            self.embed = nn.Embedding(num_classes, z_dim)

        def conv3(c: int) -> list[nn.Module]:  # deep: a 3x3 convolution at each resolution (7x7, 14x14)
            return [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()] if deep else []
        self.net = nn.Sequential(
            nn.Linear(z_dim * (2 if num_classes else 1), 2 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)), nn.BatchNorm2d(2 * width), nn.ReLU(), *conv3(2 * width),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),  # 14x14
            *conv3(width),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh(),  # 28x28
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z if y is None else torch.cat([z, self.embed(y)], 1))


class Discriminator(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["gan", "genlab"]):
    """D: image in [-1, 1] -> logit of 'real'; D(x) = sigmoid(logit).

    With num_classes > 0 it is a projection discriminator (Miyato & Koyama 2018): logit = psi(phi(x)) + <embed(y),
    phi(x)>. sn=True puts spectral normalisation on every layer (Miyato et al. 2018) instead of BatchNorm.
    """

    def __init__(self, width: int = 64, dataset: str = "mnist", num_classes: int = 0, sn: bool = False,
                 deep: bool = False):
        super().__init__()
        self.dataset, self.num_classes = dataset, num_classes
        norm = nn.utils.parametrizations.spectral_norm if sn else (lambda m: m)

        def conv3(c: int) -> list[nn.Module]:  # deep: a 3x3 convolution at each resolution (14x14, 7x7)
            return [norm(nn.Conv2d(c, c, 3, 1, 1)), nn.LeakyReLU(0.2)] if deep else []
        self.net = nn.Sequential(
            norm(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2), *conv3(width),  # 14x14
            norm(nn.Conv2d(width, 2 * width, 4, 2, 1, bias=sn)), *([] if sn else [nn.BatchNorm2d(2 * width)]),
            nn.LeakyReLU(0.2), *conv3(2 * width),  # 7x7
            nn.Flatten(), norm(nn.Linear(2 * width * 7 * 7, 1)),  # phi(x) = net[:-1](x), psi = net[-1]
        )
        if num_classes:  # small at first: D starts out (nearly) unconditional, the projection term grows as it learns
            embed = nn.Embedding(num_classes, 2 * width * 7 * 7)
            nn.init.normal_(embed.weight, std=0.02)
            self.embed = norm(embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            return self.net(x).squeeze(1)
        h = self.net[:-1](x)
        return self.net[-1](h).squeeze(1) + (self.embed(y) * h).sum(1)  # psi(phi(x)) + <embed(y), phi(x)>

    @torch.no_grad()
    def prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D(x) (D(x, y) when conditional): the probability that x came from the data (with label y)."""
        return torch.sigmoid(self(x, y))


LOSSES = ("non-saturating", "minimax", "hinge")


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, loss: str = "non-saturating") -> torch.Tensor:
    if loss == "hinge":
        # hinge: D descends E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (D = the logit here)
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    # D ascends E[log D(x)] + E[log(1 - D(G(z)))]; we descend its negative
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def g_loss(fake_logits: torch.Tensor, loss: str = "non-saturating") -> torch.Tensor:
    if loss == "minimax":
        # G descends E[log(1 - D(G(z)))]: flat where D confidently rejects the fakes
        return F.logsigmoid(-fake_logits).mean()
    if loss == "hinge":
        # hinge: G descends -E[D(G(z))] (the logit)
        return -fake_logits.mean()
    # non-saturating: G ascends E[log D(G(z))], strong gradients early in training
    return -F.logsigmoid(fake_logits).mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mode seeking (Mao et al. 2019), against dropped modes (one image per class): the batch's halves are pairs z1, z2
    (conditional: with the same y), and G descends 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2|): spreads z apart."""
    (x1, x2), (z1, z2) = fake.chunk(2), z.chunk(2)
    return 1 / ((x1 - x2).abs().mean() / (z1 - z2).abs().mean() + 1e-5)


def diff_augment(x: torch.Tensor, translate: float = 0.125, cutout: float = 0.5) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020), policy "translation,cutout", for images in [-1, 1] [N,1,H,W]: each image shifted
    by up to `translate` of its size (the background, -1, filling in) and a square `cutout` of its size set to 0.
    Differentiable, and applied to every image D sees, real and fake alike (in D's and in G's step): a D trained on
    10,000 images then cannot memorise them, and G is not pushed toward augmented images."""
    n, _, h, w = x.shape
    s = int(h * translate + 0.5)
    rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    dy, dx = (torch.randint(0, 2 * s + 1, (n, 1, 1), device=x.device) for _ in range(2))
    padded = F.pad(x[:, 0], (s, s, s, s), value=-1.0)
    x = padded[torch.arange(n, device=x.device)[:, None, None], rows[None, :, None] + dy, cols[None, None, :] + dx]
    c = int(h * cutout + 0.5)
    cy, cx = (torch.randint(0, h + 1 - c % 2, (n, 1, 1), device=x.device) for _ in range(2))
    keep = ((rows[None, :, None] - cy).abs() >= c // 2) | ((cols[None, None, :] - cx).abs() >= c // 2)
    return (x * keep).unsqueeze(1)


# --- Lab helpers for the GAN tab (gen/ui/gan_tab.py): seeds, nudges, truncation, D's verdicts, training records ---
SEED_MAX = 2**31 - 1  # seeds are 0 .. 2**31 - 1 everywhere in the app


def clamp_seed(seed: float | None) -> tuple[int, str]:
    """A seed typed by a user -> (seed clamped to 0 .. SEED_MAX, a note saying so; '' when unchanged).

    Raises ValueError with a message meant for the user when there is no number at all.
    """
    if seed is None or not math.isfinite(float(seed)):
        raise ValueError(f"Type a seed: a whole number from 0 to {SEED_MAX}.")
    s = int(round(float(seed)))
    c = min(max(s, 0), SEED_MAX)
    return c, "" if c == s else f"seed {s} is outside 0 … {SEED_MAX}: showing seed {c}"


def nudge_directions(z_dim: int, n: int = 3, seed: int = 2024) -> torch.Tensor:
    """n orthonormal directions u_i in z-space [n, z_dim], drawn once from a fixed seed: the same every run."""
    q, _ = torch.linalg.qr(seed_to_z(seed, z_dim, n).T)
    return q.T.contiguous()


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick around the prior's mean 0: z -> psi z. psi < 1 trades diversity for typical samples."""
    return z * float(psi)


def latents(seeds: Sequence[int], z_dim: int, psi: float = 1.0, nudge: Sequence[float] = ()) -> torch.Tensor:
    """z = psi * seed_to_z(s) + sum_i a_i u_i for each seed s (a_i = nudge[i], u_i = nudge_directions)."""
    z = truncate(seeds_to_z([int(s) for s in seeds], z_dim), psi)
    if any(float(a) for a in nudge):
        z = z + torch.tensor([float(a) for a in nudge]) @ nudge_directions(z_dim, len(nudge))
    return z


class Verdict(NamedTuple):
    images: np.ndarray  # uint8 [N,28,28]
    d: np.ndarray  # D(x) for each image, float [N]


@torch.no_grad()
def generate_with_d(G: Generator, D: Discriminator, z: torch.Tensor, y: Sequence[int] | None = None) -> Verdict:
    """G(z) (G(z, y) when conditional) as uint8 images and the discriminator's verdict D(G(z)) (D(G(z, y), y)) on
    each (on G's float output)."""
    y = None if y is None else torch.as_tensor(y).long()
    x = G(z, y)
    return Verdict(to_uint8(x, signed=True), D.prob(x, y).numpy())


@torch.no_grad()
def judge_real(D: Discriminator, images: np.ndarray) -> np.ndarray:
    """D(x) for uint8 real images [N,28,28]."""
    return D.prob(to_float(images, signed=True)).numpy()


@torch.no_grad()
def style_class_grid(G: Generator, seeds: Sequence[int]) -> np.ndarray:
    """G(z_s, y) as uint8 [len(seeds), 10, 28, 28]: row s keeps one z (seed_to_z(s), the style), column y the class."""
    k = G.num_classes
    z = seeds_to_z([int(s) for s in seeds], G.z_dim).repeat_interleave(k, 0)
    return to_uint8(G(z, torch.arange(k).repeat(len(seeds))), signed=True).reshape(len(seeds), k, 28, 28)


def check_class(y: float | None) -> int:
    """A class picked by a user -> 0..9; ValueError with a message meant for the user otherwise."""
    try:
        v = float(y)
    except (TypeError, ValueError):
        v = math.nan
    if v not in range(10):  # 3.0 is class 3; 2.5, -1, 10, nan are not classes
        raise ValueError(f"Pick a class: a whole number from 0 to 9 (got {y}).")
    return int(v)


@torch.no_grad()
def judge_labels(D: Discriminator, image: np.ndarray) -> np.ndarray:
    """D(x, y) for one uint8 real image [28,28] under each label y = 0..9: a projection D moves its logit by
    <embed(y), phi(x)>, so a real image with the wrong label should be called fake."""
    k = D.num_classes
    return D.prob(to_float(image[None], signed=True).expand(k, -1, -1, -1), torch.arange(k)).numpy()


class Walk(NamedTuple):
    images: np.ndarray  # uint8 [steps,28,28]
    d: np.ndarray  # D(G(z)) along the path
    norms: np.ndarray  # ||z|| along the path: lerp dips toward the origin, slerp keeps the typical norm


def walk(G: Generator, D: Discriminator, z0: torch.Tensor, z1: torch.Tensor, steps: int,
         method: str = "linear") -> Walk:
    """Decode `steps` points from z0 to z1 ([z_dim] each), straight ('linear') or on the great circle ('spherical')."""
    if method not in ("linear", "spherical"):
        raise ValueError(f"unknown interpolation {method!r}; use 'linear' or 'spherical'")
    if not 2 <= int(steps) <= 256:
        raise ValueError(f"steps must be between 2 and 256, got {steps}")
    z = (slerp if method == "spherical" else lerp)(z0, z1, int(steps))
    v = generate_with_d(G, D, z)
    return Walk(v.images, v.d, z.norm(dim=1).numpy())


class ObjectiveTerms(NamedTuple):
    d_fake: float  # D(G(z))
    log_1m_d_fake: float  # log(1 - D(G(z))): the minimax generator descends it
    log_d_fake: float  # log D(G(z)): the non-saturating generator ascends it
    d_real: float  # D(x)
    log_d_real: float  # log D(x)
    value: float  # log D(x) + log(1 - D(G(z))): this pair's term of V(D, G); D ascends it
    slope_minimax: float  # d/d(logit) of log(1 - D(G(z))) = -D(G(z)): vanishes where D rejects the fake
    slope_ns: float  # d/d(logit) of log D(G(z)) = 1 - D(G(z)): large where D rejects the fake


@torch.no_grad()
def objective_terms(G: Generator, D: Discriminator, z: torch.Tensor, real: np.ndarray) -> ObjectiveTerms:
    """The terms of min_G max_D V(D, G) for the sample G(z) (z: [1, z_dim]) and one uint8 real image [28,28]."""
    lf = float(D(G(z))[0])  # logits; log D = logsigmoid(l), log(1 - D) = logsigmoid(-l)
    lr = float(D(to_float(real[None], signed=True))[0])
    ls = F.logsigmoid
    t = torch.tensor([lf, -lf, lr], dtype=torch.float64)
    log_d_fake, log_1m_d_fake, log_d_real = ls(t).tolist()
    d_fake = math.exp(log_d_fake)
    return ObjectiveTerms(d_fake, log_1m_d_fake, log_d_fake, math.exp(log_d_real), log_d_real,
                          log_d_real + log_1m_d_fake, -d_fake, 1 - d_fake)


@torch.no_grad()
def class_histogram(G: Generator, clf: nn.Module, n: int = 1000, seed: int = 0) -> np.ndarray:
    """Fraction of n samples (z = seed_to_z(seed, z_dim, n)) in each of the 10 classes, by the classifier `clf`.

    The mode-coverage check: a collapsed generator piles its samples onto a few classes.
    """
    from gen.evaluate import features_and_labels

    images = to_uint8(G(seed_to_z(seed, G.z_dim, n)), signed=True)
    _, labels = features_and_labels(clf, images)
    return np.bincount(labels, minlength=10) / n


@torch.no_grad()
def mean_verdicts(G: Generator, D: Discriminator, real: np.ndarray, n: int = 1000,
                  seed: int = 0) -> tuple[float, float]:
    """(mean D(x) over the uint8 real images, mean D(G(z)) over n samples): both 0.5 at the game's equilibrium."""
    return float(judge_real(D, real).mean()), float(generate_with_d(G, D, seed_to_z(seed, G.z_dim, n)).d.mean())


def training_info(name: str) -> dict:
    """The model's training.json (settings and the per-epoch 'history'), or {} when not shipped."""
    from gen import hub

    return hub.read_json(name, "training.json")


G_LOSS = {"minimax": "the minimax loss (G descends log(1 − D(G(z))))",
          "non-saturating": "the non-saturating loss (G ascends log D(G(z)))",
          "hinge": "the hinge loss (D descends E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))], G ascends E[D(G(z))])"}


def _oversampled(spec: str, dataset: str | None) -> str:
    """train/gan.py's --oversample CLASS:FACTOR in words: '6:3' -> 'class Shirt repeated 3x among D's real images'."""
    cls, factor = spec.split(":")
    name = data.CLASSES[dataset][int(cls)] if dataset in data.CLASSES else cls
    return f"class {name} repeated {float(factor):g}x among D's real images"


def _without_commands(lineage: str, dataset: str | None) -> str:
    """'epochs 0-60 on CPU: python train/gan.py ... then ...' -> 'epochs 0-60 on CPU then ...', keeping what an
    oversampled run did to D's data: the tab stays legible; the model card keeps every command."""
    def what(m: re.Match) -> str:
        o = re.search(r"--oversample (\d+:[\d.]+)", m[0])
        return f", {_oversampled(o[1], dataset)}" if o else ""
    return re.sub(r": (?:python|torchrun) [^()+]*?(?= then |\)| \+ |$)", what, lineage)


def recipe(info: dict) -> str:
    """How a GAN was trained, in the lecture's terms, from its training.json ('' when there is none)."""
    if not info:
        return ""
    k = info.get("k", 1)
    parts = [f"Algorithm 1 (k = {k} D step{'s' if k != 1 else ''} per G step) with "
             + G_LOSS.get(info.get("loss", "non-saturating"), str(info.get("loss")))]
    if info.get("lr_d") and info.get("lr") and info["lr_d"] != info["lr"]:
        parts.append(f"two time-scale learning rates (G {info['lr']:g}, D {info['lr_d']:g})")
    if info.get("ema"):
        parts.append(f"samples from an exponential moving average of G's weights (decay {info['ema']:g})")
    if info.get("deep"):
        parts.append("a 3x3 convolution at each resolution of G and D")
    if info.get("spectral_norm"):
        parts.append("spectral normalisation in D")
    if info.get("mismatch"):
        parts.append("a matching-aware D (a real image with a wrong label counts as a fake)")
    if info.get("mode_seeking"):
        parts.append(f"the mode-seeking term (weight {info['mode_seeking']:g})")
    if info.get("diffaug"):
        parts.append("DiffAugment (D sees every image, real or fake, randomly shifted and cut out)")
    if info.get("oversample"):
        parts.append(f"{_oversampled(info['oversample'], info.get('dataset'))} (against its rarity in G's)")
    if info.get("epochs_done"):
        parts.append(f"{info['epochs_done']} epochs on {info.get('hardware', 'unknown hardware')}")
    runs = {k: _without_commands(info[k], info.get("dataset")) for k in ("continued_from", "soup") if info.get(k)}
    if "continued_from" in runs:  # the recipe above is the last run's: say what came before
        parts.append(f"continued from {runs['continued_from']}")
    if "soup" in runs:  # shipped as a weighted average of fine-tunes of one model
        parts.append(f"shipped as a model soup, the weighted average of {runs['soup']}")
    return "; ".join(parts)


def metrics(name: str) -> dict:
    """The model's metrics.json (FID, class histogram), or {} when not shipped."""
    from gen import hub

    return hub.read_json(name, "metrics.json")


def snapshots(name: str) -> dict[int, Path]:
    """The fixed-z 8x8 sample grids that train/gan.py kept during training: {epoch: png path}, by epoch."""
    from gen import hub

    local = hub.checkpoint_dir() / name / "snapshots"
    if local.is_dir():
        found = {int(m.group(1)): p for p in local.glob("epoch-*.png") if (m := re.fullmatch(r"epoch-(\d+)", p.stem))}
        return dict(sorted(found.items()))
    info = training_info(name)  # from the Hub: ask for the epochs the training command kept
    if not info:
        return {}
    m = re.search(r"--snapshots[ =]([\d,]+)", info.get("command", ""))
    epochs = {int(e) for e in (m.group(1) if m else "1,2,5,10,20,40").split(",") if e}
    epochs = {e for e in epochs if e <= info.get("epochs_done", 10**9)} | {info.get("epochs_done", 0)}
    found = {e: hub.extra_file(name, f"snapshots/epoch-{e:03d}.png") for e in sorted(epochs) if e > 0}
    return {e: p for e, p in found.items() if p is not None}


def stalled_at(history: list[dict], eps: float = 0.01) -> int | None:
    """The epoch from which D(G(z)) stayed below eps to the end of training (D won; a minimax G gets no gradient).

    None when it never did. `history` is training.json's per-epoch list of {epoch, D_G_z, ...}.
    """
    at = None
    for h in history:
        at = (at or h["epoch"]) if h["D_G_z"] < eps else None
    return at
