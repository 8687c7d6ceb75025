"""The playground's tiny MLP models: a 2-D GAN (G, D), a noise predictor eps_theta(x_t, t), a 2-D VAE."""
from __future__ import annotations

import math

import torch
from torch import nn

from gen.unet import timestep_embedding
from gen.vae import Encoded


def mlp(n_in: int, n_out: int, hidden: int = 128, layers: int = 2, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(n_in if i == 0 else hidden, hidden), act()]
    return nn.Sequential(*mods, nn.Linear(hidden, n_out))


class LeakyReLU(nn.LeakyReLU):
    def __init__(self):
        super().__init__(0.2)


class Generator2D(nn.Module):
    """G: z ~ N(0, I) in R^z_dim -> a point in R^2."""

    def __init__(self, z_dim: int = 2, hidden: int = 128):
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp(z_dim, 2, hidden)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator2D(nn.Module):
    """D: a point in R^2 -> the logit of 'real'; D(x) = sigmoid(logit)."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.net = mlp(2, 1, hidden, act=LeakyReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class EpsMLP(nn.Module):
    """eps_theta(x_t, t) for 2-D points: an MLP on [x_t, Fourier features of x_t, sinusoidal embedding of t].

    The Fourier features sin/cos(2 pi B x) (B fixed, random; Tancik et al. 2020) do for x what the sinusoidal
    embedding does for t: the net learns a thin spiral's noise field in a few hundred steps instead of thousands.
    """

    def __init__(self, hidden: int = 128, t_dim: int = 32, fourier: int = 16, scale: float = 0.5):
        super().__init__()
        self.t_dim = t_dim
        self.register_buffer("B", torch.randn(2, fourier) * scale)
        self.net = mlp(2 + 2 * fourier + t_dim, 2, hidden, layers=3, act=nn.SiLU)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        f = 2 * math.pi * x @ self.B
        return self.net(torch.cat([x, torch.sin(f), torch.cos(f), timestep_embedding(t, self.t_dim)], -1))


class VAE2D(nn.Module):
    """Encoder x -> (mu, log sigma^2) in R^latent, Gaussian decoder z -> g(z) in R^2 (the mean of p(x|z))."""

    def __init__(self, latent: int = 2, hidden: int = 128):
        super().__init__()
        self.latent = latent
        self.encoder = mlp(2, 2 * latent, hidden)
        self.decoder = mlp(latent, 2, hidden)

    def encode(self, x: torch.Tensor) -> Encoded:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return Encoded(mu, logvar.clamp(-12, 6))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
