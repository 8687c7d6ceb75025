"""Autoencoder and Variational Autoencoder (lecture section 2), MLPs on 28x28 images in [0,1]."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    # Reparameterisation trick: z = mu + sigma * eps, eps ~ N(0, I)
    eps = torch.randn_like(mu) if eps is None else eps
    return mu + torch.exp(0.5 * logvar) * eps


def kl_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    # KL(N(mu, sigma^2) || N(0, 1)) = -1/2 sum(1 + log sigma^2 - sigma^2 - mu^2), per example
    return -0.5 * torch.sum(1 + logvar - logvar.exp() - mu.pow(2), dim=-1)


def log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    # log p(x|z) for a Bernoulli decoder = -BCE(x, g(z)), summed over pixels, per example
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    # log p(x|z) for a Gaussian decoder N(g(z), s^2 I) = -||x - g(z)||^2 / (2 s^2) - D/2 log(2 pi s^2), per example
    d = x[0].numel()
    return -(x - mean).pow(2).flatten(1).sum(1) / (2 * s * s) - 0.5 * d * math.log(2 * math.pi * s * s)


class ELBO(NamedTuple):
    recon: torch.Tensor  # E_q[log p(x|z)], one sample of z, nats per image
    kl: torch.Tensor  # KL(q(z|x) || p(z)), nats per image
    elbo: torch.Tensor  # recon - kl: a lower bound on log p(x)


def elbo(x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
         likelihood: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = log_likelihood) -> ELBO:
    # ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)); `logits` is the decoder's output g(z), read by `likelihood`
    recon, kl = likelihood(x, logits), kl_gaussian(mu, logvar)
    return ELBO(recon, kl, recon - kl)


class Encoded(NamedTuple):
    mu: torch.Tensor
    logvar: torch.Tensor  # log sigma^2 (-inf for a plain AE: a point code)


class VAE(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["vae", "genlab"]):
    """MLP VAE: x -> (mu, log sigma^2) -> z -> Bernoulli logits. `variational=False` is the plain AE."""

    def __init__(self, latent_dim: int = 2, hidden: int = 512, dataset: str = "mnist", variational: bool = True):
        super().__init__()
        self.latent_dim, self.dataset, self.variational = latent_dim, dataset, variational
        out = 2 * latent_dim if variational else latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, out))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, hidden),
                                     nn.ReLU(), nn.Linear(hidden, 784), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x: torch.Tensor) -> Encoded:
        h = self.encoder(x)
        if not self.variational:
            return Encoded(h, torch.full_like(h, -float("inf")))  # a point: sigma = 0
        mu, logvar = h.chunk(2, dim=-1)
        return Encoded(mu, logvar.clamp(-30, 20))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z -> image in [0,1] (the Bernoulli mean)."""
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> tuple[torch.Tensor, ELBO]:
        """Returns z and the ELBO's terms. For the AE, z = f(x) and `kl` is 0."""
        mu, logvar = self.encode(x)
        if not self.variational:
            logits = self.decoder(mu)
            recon = log_likelihood(x, logits)
            return mu, ELBO(recon, torch.zeros_like(recon), recon)
        z = reparameterize(mu, logvar, eps)
        return z, elbo(x, self.decoder(z), mu, logvar)



# ---- what the lab shows ---------------------------------------------------------------------

@torch.no_grad()
def walk(model: VAE, x0: torch.Tensor, x1: torch.Tensor, steps: int, method: str = "linear") -> torch.Tensor:
    """Decode `steps` points from mu(x0) to mu(x1) (images [1,1,28,28]), straight ('linear') or on the great circle
    ('spherical'): [steps,1,28,28]. The VAE twin of gen.gan.walk."""
    from gen.latent import lerp, slerp

    if method not in ("linear", "spherical"):
        raise ValueError(f"unknown interpolation {method!r}; use 'linear' or 'spherical'")
    if not 2 <= int(steps) <= 256:
        raise ValueError(f"steps must be between 2 and 256, got {steps}")
    z0, z1 = model.encode(x0).mu[0], model.encode(x1).mu[0]
    return model.decode((slerp if method == "spherical" else lerp)(z0, z1, int(steps)))


@torch.no_grad()
def latent_grid(model: VAE, n: int = 15, r: float = 3.0) -> torch.Tensor:
    """Decoded images on an n x n grid over [-r, r]^2, rows from z2 = +r (top) to -r: [n*n,1,28,28]."""
    zs = torch.linspace(-r, r, n)
    z = torch.stack([torch.stack([z1, z2]) for z2 in zs.flip(0) for z1 in zs])
    return model.decode(z)


class EncodeReport(NamedTuple):
    mu: torch.Tensor  # [d]
    sigma: torch.Tensor  # [d]
    eps: torch.Tensor  # [d], the sampled noise
    z: torch.Tensor  # [d], mu + sigma * eps
    recon: torch.Tensor  # [1,1,28,28], the decoder's mean image at z
    terms: ELBO  # each [1]


@torch.no_grad()
def encode_report(model: VAE, x: torch.Tensor, seed: int = 0) -> EncodeReport:
    """Everything the lecture's equations need for one image x [1,1,28,28], with seeded eps."""
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(int(seed)))
    if model.variational:
        z, terms = model(x, eps)
    else:
        z, terms = model(x)
        eps = torch.zeros_like(mu)
    return EncodeReport(mu[0], torch.exp(0.5 * logvar[0]), eps[0], z[0], model.decode(z), terms)
