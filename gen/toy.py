"""The training playground: 2-D toy data, tiny MLP models of all three families, trainers, and their views.

Everything here trains live on a 2-core CPU. The math is the image models' math, imported, not copied:
GAN losses from gen.gan, the ELBO pieces from gen.vae, q_sample / loss_simple / p_sample from gen.diffusion.
Each trainer step is one line of the lecture's algorithm; `view` functions draw a frame with PIL.
No Gradio here: gen/ui/playground_tab.py wires this to the browser.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import time
from collections.abc import Iterator, Sequence
from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw
from torch import nn

from gen import diffusion
from gen.gan import d_loss, g_loss
from gen.unet import timestep_embedding
from gen.vae import Encoded, elbo, gaussian_log_likelihood, kl_gaussian, reparameterize

R = 3.0  # every view shows [-R, R]^2
SIZE = 480  # px of a view
CAP = 20_000  # parameter updates per model and session: a forgotten tab stops training by itself
RING_RADIUS, RING_STD = 2.0, 0.1

# ---- data ------------------------------------------------------------------------------------

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
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    return float(torch.cdist(a, b).min(1).values.mean())


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


# ---- models: tiny MLPs -----------------------------------------------------------------------

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


# ---- one thread per training session ---------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _libgomp() -> ctypes.CDLL | None:
    """The OpenMP runtime torch uses (found among the loaded libraries), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libgomp" in line and "/" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "omp_set_num_threads"):
                return lib
    except OSError:
        pass
    return None


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops of the calling thread on that thread alone; other threads keep torch.get_num_threads().

    The toy models' tensors are tiny: splitting them over 2 cores costs more than it saves, and while the CPU
    is busy (other visitors training, other tabs sampling) waiting for a second OpenMP thread can make a
    0.3 ms step take 20 ms. OpenMP's thread count is per calling thread, so this touches no one else.
    """
    lib = _libgomp()
    if lib is None:
        yield
        return
    torch.get_num_threads()  # let torch initialise this thread's OpenMP settings first
    before = lib.omp_get_max_threads()
    lib.omp_set_num_threads(1)
    try:
        yield
    finally:
        lib.omp_set_num_threads(before)


def single_threaded(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread():
            return fn(*args, **kwargs)
    return wrapper


# ---- trainers --------------------------------------------------------------------------------

@contextlib.contextmanager
def _seeded(gen: torch.Generator) -> Iterator[None]:
    """Run code that draws from torch's global RNG (e.g. loss_simple) reproducibly, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        yield


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "Adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; use 'Adam' or 'SGD'")


class Trainer:
    """What all three trainers share: the data, a seeded RNG, an update counter with a hard cap, a history."""

    family = ""

    def __init__(self, data: ToyData, seed: int = 0, batch: int = 128, per_frame: int = 10):
        self.data, self.seed, self.batch = data, int(seed), int(batch)
        self.rng = torch.Generator().manual_seed(int(seed) + 1)
        self.updates = 0
        self.history: list[dict] = []
        self.per_frame = int(per_frame)  # updates between two frames while playing
        self.elapsed = 0.0  # seconds spent in updates
        n = len(data.x)
        self.view_idx = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed) + 7))[:600]

    def sample_batch(self, m: int | None = None) -> torch.Tensor:
        """A minibatch of m examples from the data (with replacement)."""
        return self.data.x[torch.randint(0, len(self.data.x), (m or self.batch,), generator=self.rng)]

    def remaining(self) -> int:
        return max(0, CAP - self.updates)

    def _configure(self, lr: float | None, per_frame: int | None) -> None:
        """The settings every single-optimiser trainer shares (the GAN has two learning rates)."""
        if lr is not None:
            if not 0 < float(lr) <= 1:
                raise ValueError(f"the learning rate must be in (0, 1], got {lr}")
            self.lr = float(lr)
            for group in self.opt.param_groups:
                group["lr"] = self.lr
        if per_frame is not None:
            self.per_frame = max(1, int(per_frame))

    def _check(self, n: int = 1) -> int:
        if self.remaining() <= 0:
            raise ValueError(f"This model has had its {CAP:,} updates for this session: press Reset to start again.")
        return min(int(n), self.remaining())

    def curves(self, series: dict[str, str], max_points: int = 250) -> pd.DataFrame:
        """The history as a long table (step, value, series) for a line plot, averaged into at most max_points bins."""
        cols = {"step": [], "value": [], "series": []}
        if self.history:
            h = pd.DataFrame(self.history)
            bins = np.minimum((h["step"].to_numpy() - 1) * max_points // max(1, int(h["step"].max())), max_points - 1)
            g = h.groupby(bins)
            for key, label in series.items():
                if key in h:
                    m = g[key].mean()
                    cols["step"] += g["step"].max().tolist()
                    cols["value"] += m.tolist()
                    cols["series"] += [label] * len(m)
        return pd.DataFrame(cols)

    def summary(self) -> dict:
        return {"family": self.family, "data": self.data.name, "n": len(self.data.x), "seed": self.seed,
                "updates": self.updates, "cap": CAP, "last": self.history[-1] if self.history else None,
                "updates_per_s": round(self.updates / self.elapsed, 1) if self.elapsed else None}


class GANTrainer(Trainer):
    """Algorithm 1 of Goodfellow et al. (2014) on 2-D points, one update at a time."""

    family = "gan"

    def __init__(self, data: ToyData, z_dim: int = 2, hidden: int = 128, lr_d: float = 1e-3, lr_g: float = 1e-3,
                 optimizer: str = "Adam", k: int = 1, loss: str = "non-saturating", batch: int = 128, seed: int = 0,
                 per_frame: int = 5):
        super().__init__(data, seed, batch, per_frame)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.G, self.D = Generator2D(int(z_dim), hidden), Discriminator2D(hidden)
        self.z_dim = int(z_dim)
        self.lr_d, self.lr_g, self.optimizer, self.k, self.loss = lr_d, lr_g, optimizer, int(k), loss
        self.opt_d = _optimizer(optimizer, self.D.parameters(), lr_d)
        self.opt_g = _optimizer(optimizer, self.G.parameters(), lr_g)
        self.phase = 0  # D steps done in the current iteration (0..k)
        self.iterations = 0  # completed iterations (G steps)
        self.last = ""  # "d" or "g": the line of Algorithm 1 performed last
        self.stats = {"d_loss": float("nan"), "g_loss": float("nan"), "d_real": float("nan"), "d_fake": float("nan")}
        self.probe_z = torch.randn(500, self.z_dim, generator=torch.Generator().manual_seed(int(seed) + 3))

    def configure(self, lr_d: float | None = None, lr_g: float | None = None, optimizer: str | None = None,
                  k: int | None = None, loss: str | None = None, per_frame: int | None = None) -> None:
        """Change hyper-parameters during training (a new optimizer starts with fresh moments)."""
        if loss is not None:
            if loss not in ("minimax", "non-saturating"):
                raise ValueError(f"unknown generator loss {loss!r}; use 'minimax' or 'non-saturating'")
            self.loss = loss
        if k is not None:
            if not 1 <= int(k) <= 20:
                raise ValueError(f"k must be between 1 and 20, got {k}")
            self.k = int(k)
        if per_frame is not None:
            self.per_frame = max(1, int(per_frame))
        if optimizer is not None and optimizer != self.optimizer:
            self.optimizer = optimizer
            self.opt_d = _optimizer(optimizer, self.D.parameters(), lr_d or self.lr_d)
            self.opt_g = _optimizer(optimizer, self.G.parameters(), lr_g or self.lr_g)
        for opt, lr, attr in ((self.opt_d, lr_d, "lr_d"), (self.opt_g, lr_g, "lr_g")):
            if lr is not None:
                if not 0 < float(lr) <= 1:
                    raise ValueError(f"learning rates must be in (0, 1], got {lr}")
                setattr(self, attr, float(lr))
                for group in opt.param_groups:
                    group["lr"] = float(lr)

    def noise(self, m: int | None = None) -> torch.Tensor:
        """A minibatch of m noise samples z ~ p_z(z) = N(0, I)."""
        return torch.randn(m or self.batch, self.z_dim, generator=self.rng)

    def _record(self) -> None:
        self.updates += 1
        self.history.append({"step": self.updates, "kind": self.last, **self.stats})

    @single_threaded
    def d_step(self) -> dict:
        """Lines 3-5: sample m noise samples and m examples; update D by ascending its side of V(D, G)."""
        self._check()
        t0 = time.perf_counter()
        x, z = self.sample_batch(), self.noise()
        with torch.no_grad():
            fake = self.G(z)
        real_logits, fake_logits = self.D(x), self.D(fake)
        loss = d_loss(real_logits, fake_logits)  # -(E[log D(x)] + E[log(1 - D(G(z)))])
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.stats.update(d_loss=float(loss.detach()), d_real=float(torch.sigmoid(real_logits.detach()).mean()),
                          d_fake=float(torch.sigmoid(fake_logits.detach()).mean()))
        self.phase, self.last = min(self.phase + 1, self.k), "d"
        self.elapsed += time.perf_counter() - t0
        self._record()
        return self.stats

    @single_threaded
    def g_step(self) -> dict:
        """Lines 7-8: sample m noise samples; update G by descending its loss (D is held fixed)."""
        self._check()
        t0 = time.perf_counter()
        z = self.noise()
        self.D.requires_grad_(False)
        try:
            fake_logits = self.D(self.G(z))
            loss = g_loss(fake_logits, self.loss)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        self.stats.update(g_loss=float(loss.detach()), d_fake=float(torch.sigmoid(fake_logits.detach()).mean()))
        self.phase, self.last = 0, "g"
        self.iterations += 1
        self.elapsed += time.perf_counter() - t0
        self._record()
        return self.stats

    def iteration(self) -> dict:
        """One full iteration of Algorithm 1: the rest of the k D steps, then one G step."""
        while self.phase < self.k:
            self.d_step()
        return self.g_step()

    @single_threaded
    def step(self, n: int = 1) -> dict:
        """n iterations (fewer if the cap is reached on the way)."""
        self._check()
        for _ in range(int(n)):
            if self.remaining() < self.k - self.phase + 1:
                break
            self.iteration()
        return self.stats

    @torch.no_grad()
    def fakes(self) -> torch.Tensor:
        return self.G(self.probe_z)

    def generator_push(self, x: torch.Tensor) -> torch.Tensor:
        """-d(per-sample G loss)/dx at fake points x: where G's update moves each sample (D fixed)."""
        x = x.detach().clone().requires_grad_(True)
        self.D.requires_grad_(False)
        try:
            loss = g_loss(self.D(x), self.loss) * len(x)  # the sum of the per-sample losses
            (grad,) = torch.autograd.grad(loss, x)
        finally:
            self.D.requires_grad_(True)
        return -grad

    def summary(self) -> dict:
        s = super().summary()
        fakes = self.fakes()
        s.update(hparams={"z_dim": self.z_dim, "lr_d": self.lr_d, "lr_g": self.lr_g, "optimizer": self.optimizer,
                          "k": self.k, "loss": self.loss, "batch": self.batch},
                 iterations=self.iterations, phase=self.phase, last_line=self.last, stats=self.stats,
                 chamfer=round(chamfer(fakes, self.data.x[self.view_idx]), 4))
        if self.data.name == "ring":
            c = ring_coverage(fakes)
            s.update(modes=c.modes, on_mode=round(c.good, 3))
        return s


def toy_schedule(name: str, T: int) -> diffusion.Schedule:
    """A short schedule for T = 50..200 steps. Linear: Ho et al.'s 1e-4..0.02 scaled by 1000/T, so x_T is noise."""
    if name == "linear":
        return diffusion.linear_schedule(int(T), 1e-4 * 1000 / T, min(0.999, 0.02 * 1000 / T))
    if name == "cosine":
        return diffusion.make_schedule("cosine", int(T))
    raise ValueError(f"unknown schedule {name!r}; use 'linear' or 'cosine'")


class DDPMTrainer(Trainer):
    """Algorithm 1 of Ho et al. (2020) on 2-D points: L_simple with the image model's q_sample / loss_simple."""

    family = "ddpm"

    def __init__(self, data: ToyData, schedule: str = "linear", T: int = 100, hidden: int = 128, lr: float = 3e-3,
                 batch: int = 256, seed: int = 0, per_frame: int = 20):
        super().__init__(data, seed, batch, per_frame)
        if not 10 <= int(T) <= 1000:
            raise ValueError(f"T must be between 10 and 1000, got {T}")
        self.sch, self.T, self.schedule = toy_schedule(schedule, int(T)), int(T), schedule
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.model = EpsMLP(hidden)
        self.lr = float(lr)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        # fixed eps for the shown points: the cloud dissolves smoothly as t grows
        self.view_eps = diffusion.noise((len(self.view_idx), 2), int(seed) + 5)
        self.loss = float("nan")
        self.chain_seed = int(seed)
        self._chain: tuple[int, int, np.ndarray] | None = None  # (updates, seed, chain)

    def configure(self, lr: float | None = None, per_frame: int | None = None) -> None:
        self._configure(lr, per_frame)

    @single_threaded
    def step(self, n: int = 1) -> float:
        """n gradient steps of Algorithm 1: x_0 ~ q(x_0), t ~ U{1..T}, eps ~ N(0, I), descend ||eps - eps_theta||^2."""
        t0 = time.perf_counter()
        for _ in range(self._check(n)):
            x0 = self.sample_batch()
            with _seeded(self.rng):
                loss = diffusion.loss_simple(self.model, x0, self.sch)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.loss = float(loss.detach())
            self.updates += 1
            self.history.append({"step": self.updates, "loss": self.loss})
        self.elapsed += time.perf_counter() - t0
        return self.loss

    @torch.no_grad()
    def forward_cloud(self, t: int) -> torch.Tensor:
        """q(x_t | x_0) for the shown data points with fixed eps: x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps."""
        return diffusion.q_sample(self.data.x[self.view_idx], int(t), self.view_eps, self.sch)

    @torch.no_grad()
    @single_threaded
    def chain(self, n: int = 400, seed: int | None = None, stale_ok: bool = False) -> np.ndarray:
        """Algorithm 2 on n fresh points x_T ~ N(0, I): [T + 1, n, 2], indexed by t (x_0 at index 0).

        Cached; with stale_ok, a chain computed before the latest updates is good enough (while playing).
        """
        seed = self.chain_seed if seed is None else int(seed)
        c = self._chain
        if c and c[1] == seed and c[2].shape[1] == n and (stale_ok or c[0] == self.updates):
            return c[2]
        x = diffusion.noise((n, 2), seed)
        out = np.empty((self.T + 1, n, 2), dtype=np.float32)
        out[self.T] = x.numpy()
        for s in diffusion.sample_steps(self.model, self.sch, x, seed):
            out[s.t - 1] = s.prev_sample.numpy()
        self._chain = (self.updates, seed, out)
        return out

    @torch.no_grad()
    def field(self, t: int, cells: int = 15) -> tuple[np.ndarray, np.ndarray]:
        """Grid points over the view and the learned noise eps_theta(x, t) at each."""
        c = (np.arange(cells) + 0.5) / cells * 2 * R - R
        g = torch.tensor(np.stack(np.meshgrid(c, c), -1).reshape(-1, 2), dtype=torch.float32)
        eps = self.model(g, torch.full((len(g),), max(1, int(t))))
        return g.numpy(), eps.numpy()

    def summary(self) -> dict:
        s = super().summary()
        s.update(hparams={"schedule": self.schedule, "T": self.T, "lr": self.lr, "batch": self.batch},
                 loss=self.loss, chamfer=round(chamfer(self.chain()[0], self.data.x[self.view_idx]), 4))
        return s


class VAETrainer(Trainer):
    """An MLP VAE on 2-D points with a Gaussian decoder p(x|z) = N(g(z), s^2 I), trained on -(recon - beta KL)."""

    family = "vae"

    def __init__(self, data: ToyData, latent: int = 2, hidden: int = 128, lr: float = 2e-3, beta: float = 1.0,
                 s: float = 0.1, batch: int = 256, seed: int = 0, per_frame: int = 20):
        super().__init__(data, seed, batch, per_frame)
        if int(latent) not in (1, 2):
            raise ValueError(f"the latent size must be 1 or 2, got {latent}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.model = VAE2D(int(latent), hidden)
        self.latent, self.lr, self.beta, self.s = int(latent), float(lr), float(beta), float(s)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.terms = {"recon": float("nan"), "kl": float("nan"), "elbo": float("nan")}
        self.probe_z = torch.randn(500, self.latent, generator=torch.Generator().manual_seed(int(seed) + 3))

    def configure(self, lr: float | None = None, beta: float | None = None, s: float | None = None,
                  per_frame: int | None = None) -> None:
        if beta is not None:
            if not 0 <= float(beta) <= 100:
                raise ValueError(f"beta must be between 0 and 100, got {beta}")
            self.beta = float(beta)
        if s is not None:
            if not 0 < float(s) <= 10:
                raise ValueError(f"the decoder's s must be in (0, 10], got {s}")
            self.s = float(s)
        self._configure(lr, per_frame)

    @single_threaded
    def step(self, n: int = 1) -> dict:
        """n gradient steps on -(E_q[log p(x|z)] - beta KL(q(z|x) || p(z))), z = mu + sigma * eps."""
        t0 = time.perf_counter()
        for _ in range(self._check(n)):
            x = self.sample_batch()
            mu, logvar = self.model.encode(x)
            z = reparameterize(mu, logvar, torch.randn(mu.shape, generator=self.rng))
            terms = elbo(x, self.model(z), mu, logvar, likelihood=partial(gaussian_log_likelihood, s=self.s))
            loss = -(terms.recon - self.beta * terms.kl).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.terms = {k: float(v.detach().mean()) for k, v in terms._asdict().items()}
            self.updates += 1
            self.history.append({"step": self.updates, **self.terms})
        self.elapsed += time.perf_counter() - t0
        return self.terms

    @torch.no_grad()
    def codes(self) -> torch.Tensor:
        """mu(x) of the shown data points."""
        return self.model.encode(self.data.x[self.view_idx]).mu

    @torch.no_grad()
    def prior_samples(self) -> torch.Tensor:
        """g(z) for fixed z ~ p(z) = N(0, I)."""
        return self.model(self.probe_z)

    def summary(self) -> dict:
        s = super().summary()
        s.update(hparams={"latent": self.latent, "lr": self.lr, "beta": self.beta, "s": self.s, "batch": self.batch},
                 terms=self.terms, kl_check=float(kl_gaussian(*self.model.encode(self.data.x[:256])).mean()),
                 chamfer=round(chamfer(self.prior_samples(), self.data.x[self.view_idx]), 4))
        return s


# ---- views: PIL drawings ---------------------------------------------------------------------

REAL, FAKE, ARROW = (27, 120, 55), (118, 42, 131), (40, 40, 40)
FORWARD, REVERSE, FAINT, FIELD = (31, 119, 180), (230, 110, 0), (205, 205, 205), (150, 150, 150)


def to_px(p: np.ndarray | torch.Tensor, size: int = SIZE, r: float = R) -> np.ndarray:
    """(x, y) in [-r, r]^2 -> pixel coordinates, y up."""
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    return np.stack([(p[:, 0] + r) / (2 * r) * size, (r - p[:, 1]) / (2 * r) * size], 1)


def from_px(x: float, y: float, size: int = SIZE, r: float = R) -> tuple[float, float]:
    return x / size * 2 * r - r, r - y / size * 2 * r


def hue(key: np.ndarray, s: float = 0.75, v: float = 0.8) -> np.ndarray:
    """Colour key in [0, 1) -> RGB uint8 [N, 3] around the colour wheel."""
    h = (np.asarray(key, dtype=np.float64) % 1) * 6
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, 1) for c in ((v + 0 * f, t, p + 0 * f), (q, v + 0 * f, p + 0 * f),
                                               (p + 0 * f, v + 0 * f, t), (p + 0 * f, q, v + 0 * f),
                                               (t, p + 0 * f, v + 0 * f), (v + 0 * f, p + 0 * f, q))], 1)
    return (table[np.arange(len(h)), i] * 255).round().astype(np.uint8)


def canvas(size: int = SIZE, background: np.ndarray | None = None, r: float = R) -> Image.Image:
    """A white (or given) square with a light grid at every unit and the axes."""
    im = Image.fromarray(background) if background is not None else Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    for v in range(-int(r), int(r) + 1):
        (px, py), = to_px(np.array([[v, v]]), size, r)
        col = (170, 170, 170) if v == 0 else (228, 228, 228)
        d.line([(px, 0), (px, size)], fill=col)
        d.line([(0, py), (size, py)], fill=col)
    return im


def dots(im: Image.Image, p: np.ndarray | torch.Tensor, colour, radius: float = 2.5, r: float = R) -> None:
    d = ImageDraw.Draw(im)
    px = to_px(p, im.width, r)
    cols = np.broadcast_to(np.asarray(colour, dtype=np.uint8), (len(px), 3))
    for (x, y), c in zip(px, cols):
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=tuple(int(v) for v in c))


def arrows(im: Image.Image, start: np.ndarray, vec_px: np.ndarray, colour=ARROW, width: int = 2,
           head: float = 6.0, r: float = R) -> None:
    """Arrows from points (data coordinates) along vectors given in pixels (x right, y up)."""
    d = ImageDraw.Draw(im)
    for (x, y), (vx, vy) in zip(to_px(start, im.width, r), np.asarray(vec_px, dtype=np.float64)):
        n = math.hypot(vx, vy)
        if n < 1.5:
            d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
            continue
        ex, ey = x + vx, y - vy
        ux, uy = vx / n, -vy / n
        h = min(head, 0.6 * n)
        d.line([(x, y), (ex - ux * h * 0.5, ey - uy * h * 0.5)], fill=colour, width=width)
        d.polygon([(ex, ey), (ex - ux * h - uy * h * 0.55, ey - uy * h + ux * h * 0.55),
                   (ex - ux * h + uy * h * 0.55, ey - uy * h - ux * h * 0.55)], fill=colour)


def d_heatmap(D: nn.Module, size: int = SIZE, cells: int = 72) -> np.ndarray:
    """D(x) over the view as an RGB background: purple where D says 'fake' (0), white at 0.5, green at 'real' (1)."""
    c = (np.arange(cells) + 0.5) / cells * 2 * R - R
    xx, yy = np.meshgrid(c, c[::-1])
    with torch.no_grad():
        p = torch.sigmoid(D(torch.tensor(np.stack([xx, yy], -1).reshape(-1, 2), dtype=torch.float32)))
    p = p.numpy().reshape(cells, cells, 1)
    white, green, purple = np.array([255, 255, 255.0]), np.array([120, 200, 135.0]), np.array([196, 160, 228.0])
    rgb = np.where(p >= 0.5, white + (green - white) * (2 * p - 1), white + (purple - white) * (1 - 2 * p))
    img = Image.fromarray(rgb.round().astype(np.uint8)).resize((size, size), Image.BILINEAR)
    return np.asarray(img)


@single_threaded
def gan_view(tr: GANTrainer, size: int = SIZE, n_arrows: int = 40) -> np.ndarray:
    """Real points, G(z), D(x) as the background, and G's push -d loss_G/dx on a few fakes."""
    im = canvas(size, d_heatmap(tr.D, size))
    fakes = tr.fakes()
    dots(im, tr.data.x[tr.view_idx[:500]], REAL, 3.0)
    dots(im, fakes.clamp(-R * 0.99, R * 0.99), FAKE, 3.0)  # samples outside the view sit on its border
    push = tr.generator_push(fakes[:n_arrows]).numpy()
    ppu = size / (2 * R)  # pixels per unit
    length = np.linalg.norm(push, axis=1, keepdims=True)
    scale = np.minimum(1.0, 1.6 / np.maximum(length, 1e-12))  # arrows at most 1.6 units long
    arrows(im, fakes[:n_arrows].numpy(), push * scale * ppu * 0.5, ARROW)
    return np.asarray(im)


@single_threaded
def ddpm_view(tr: DDPMTrainer, t: int, chain: np.ndarray | None = None, size: int = SIZE,
              show_forward: bool = True) -> np.ndarray:
    """At step t: the data noised by q(x_t | x_0), Algorithm 2's cloud at t, and -eps_theta(x, t) as arrows."""
    t = int(min(max(t, 0), tr.T))
    im = canvas(size)
    dots(im, tr.data.x[tr.view_idx], FAINT, 2.0)
    g, eps = tr.field(max(t, 1))
    cell = size / 15
    n = np.linalg.norm(eps, axis=1, keepdims=True)
    arrows(im, g, -eps / np.maximum(n, 1e-9) * np.minimum(n * 0.3, 0.95) * cell, FIELD, width=1, head=4)
    if show_forward:
        dots(im, tr.forward_cloud(t), FORWARD, 2.5)
    x_t = (chain if chain is not None else tr.chain())[t]
    dots(im, x_t, REVERSE, 2.5)
    return np.asarray(im)


@single_threaded
def vae_view(tr: VAETrainer, size: int = SIZE, latent_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(data space: data coloured by position and g(z) for z ~ N(0, I); latent space: mu(x) of the same points)."""
    keys = hue(tr.data.key[tr.view_idx.numpy()])
    data_im = canvas(size)
    dots(data_im, tr.data.x[tr.view_idx], keys, 2.5)
    dots(data_im, tr.prior_samples(), (30, 30, 30), 2.0)
    mu = tr.codes().numpy()
    ls = latent_size or size
    lat = canvas(ls)
    d = ImageDraw.Draw(lat)
    c = ls / 2
    ppu = ls / (2 * R)
    if tr.latent == 2:
        for k in (1, 2):
            d.ellipse([c - k * ppu, c - k * ppu, c + k * ppu, c + k * ppu], outline=(120, 120, 120), width=2)
        dots(lat, mu, keys, 2.2)
    else:
        zs = np.linspace(-R, R, 200)
        curve = np.stack([zs, 2.5 * np.exp(-zs ** 2 / 2)], 1)
        d.line([tuple(p) for p in to_px(curve, ls)], fill=(120, 120, 120), width=2)
        jitter = np.random.default_rng(0).uniform(-0.6, 0.6, len(mu)) - 1.5
        dots(lat, np.stack([mu[:, 0], jitter], 1), keys, 2.2)
    return np.asarray(data_im), np.asarray(lat)


def data_view(points: Sequence[Sequence[float]], data: ToyData | None = None, size: int = SIZE) -> np.ndarray:
    """The drawing canvas: clicked points (big) and the data set made from them (small)."""
    im = canvas(size)
    if data is not None:
        dots(im, data.x[:1500], hue(data.key[:1500]), 2.0)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p):
        dots(im, p, (20, 20, 20), 5.0)
    return np.asarray(im)
