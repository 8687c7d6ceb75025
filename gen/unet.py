"""A small U-Net noise predictor eps_theta(x_t, t) for 28x28 images, sized for a 2-core CPU."""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the step t (as in Transformers and Ho et al.)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


@functools.cache
def cpu_has_bf16() -> bool:
    """This CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16); elsewhere bf16 is emulated, and slower."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def bf16_sampling_default() -> bool:
    """The app's choice for UNet.bf16_sampling: GENLAB_BF16=1 or 0 if set, else whether the CPU has bf16 units."""
    env = os.environ.get("GENLAB_BF16", "")
    return env == "1" if env else cpu_has_bf16()


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()  # before the second convolution, as Ho et al.
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.t_proj(temb)[:, :, None, None]
        return self.skip(x) + self.conv2(self.drop(F.silu(self.norm2(h))))


class UNet(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["ddpm", "diffusion", "genlab"]):
    """28 -> 14 -> 7 -> 14 -> 28 with skip connections; t (and the class y, when conditional) enters every block.

    num_classes > 0 makes it eps_theta(x_t, t, y) for classifier-free guidance: a learned embedding of y is added
    to the time embedding; label `num_classes` is the null class (no label), which y=None also means."""

    # Sampling (no gradients) on a CPU runs under bfloat16 autocast when this is set, as the app does where the CPU
    # has bf16 units: 20 chains step 2.3x faster there, a DDIM grid of 16 2.2x (bench/compute.py), and x_0 differs
    # from float32's by under a grey level on average. Below bf16_min_rows images its conversions cost more than they
    # save (one image: 5.5 -> 6.4 ms). Training (gradients) is never affected.
    bf16_sampling: ClassVar[bool] = False
    bf16_min_rows: ClassVar[int] = 3

    def __init__(self, ch: int = 32, mult: tuple[int, int, int] = (1, 2, 4), T: int = 1000,
                 schedule: str = "linear", dataset: str = "mnist", num_classes: int = 0, dropout: float = 0.0):
        super().__init__()
        self.T, self.schedule, self.dataset, self.ch, self.num_classes = T, schedule, dataset, ch, num_classes
        t_dim = 4 * ch
        self.t_mlp = nn.Sequential(nn.Linear(ch, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        if num_classes:  # zero-initialised: an unconditional model's weights load and start out unchanged
            self.y_emb = nn.Embedding(num_classes + 1, t_dim)
            nn.init.zeros_(self.y_emb.weight)
        c1, c2, c3 = (ch * m for m in mult)
        block = functools.partial(ResBlock, t_dim=t_dim, dropout=dropout)  # dropout acts in training only
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = block(c1, c1)
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)  # 14
        self.down2 = block(c1, c2)
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)  # 7
        self.mid1, self.mid2 = block(c2, c3), block(c3, c3)
        self.up2 = block(c3 + c2, c2)  # at 14
        self.up1 = block(c2 + c1, c1)  # at 28
        self.norm_out, self.conv_out = nn.GroupNorm(8, c1), nn.Conv2d(c1, 1, 3, padding=1)

    @property
    def null_class(self) -> int:
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if (self.bf16_sampling and len(x) >= self.bf16_min_rows and x.device.type == "cpu"
                and not torch.is_grad_enabled()):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self._eps(x, t, y).float()
        return self._eps(x, t, y)

    def _eps(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        temb = self.t_mlp(timestep_embedding(t, self.ch))
        if self.num_classes:
            y = torch.full_like(t, self.null_class, dtype=torch.long) if y is None else y
            temb = temb + self.y_emb(y)
        elif y is not None:
            raise ValueError("this U-Net is unconditional: it takes no class label")
        h1 = self.down1(self.conv_in(x), temb)  # 28
        h2 = self.down2(self.pool1(h1), temb)  # 14
        h = self.mid2(self.mid1(self.pool2(h2), temb), temb)  # 7
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2, mode="nearest"), h2], 1), temb)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2, mode="nearest"), h1], 1), temb)
        return self.conv_out(F.silu(self.norm_out(h)))
