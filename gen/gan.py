"""DCGAN-style generator and discriminator for 28x28 images in [-1,1] (lecture section 3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


class Generator(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["gan", "genlab"]):
    """G: z ~ N(0, I) -> image in [-1, 1]."""

    def __init__(self, z_dim: int = 64, width: int = 64, dataset: str = "mnist"):
        super().__init__()
        self.z_dim, self.dataset = z_dim, dataset
        self.net = nn.Sequential(
            nn.Linear(z_dim, 2 * width * 7 * 7, bias=False), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh(),  # 28x28
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["gan", "genlab"]):
    """D: image in [-1, 1] -> logit of 'real'; D(x) = sigmoid(logit)."""

    def __init__(self, width: int = 64, dataset: str = "mnist"):
        super().__init__()
        self.dataset = dataset
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),  # 14x14
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),  # 7x7
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    @torch.no_grad()
    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): the probability that x came from the data."""
        return torch.sigmoid(self(x))


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    # D ascends E[log D(x)] + E[log(1 - D(G(z)))]; we descend its negative
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def g_loss(fake_logits: torch.Tensor, loss: str = "non-saturating") -> torch.Tensor:
    if loss == "minimax":
        # G descends E[log(1 - D(G(z)))]: flat where D confidently rejects the fakes
        return F.logsigmoid(-fake_logits).mean()
    # non-saturating: G ascends E[log D(G(z))], strong gradients early in training
    return -F.logsigmoid(fake_logits).mean()
