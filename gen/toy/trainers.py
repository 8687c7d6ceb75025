"""The playground's trainers, one per family, each step one line of the lecture's algorithm; and their settings.

The math is the image models' math, imported, not copied: GAN losses from gen.gan, the ELBO pieces from gen.vae,
q_sample / loss_simple / p_sample from gen.diffusion. A `Settings` dataclass per family names every
hyper-parameter, says which of them rebuild the model (`RESETS`) and builds or reconfigures a trainer.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import time
from array import array
from collections.abc import Iterator
from functools import partial
from typing import ClassVar

import numpy as np
import torch

from gen import diffusion
from gen.cache import SharedCache
from gen.gan import d_loss, g_loss
from gen.toy.data import DATASETS, R, ToyData, chamfer, ring_coverage
from gen.toy.models import VAE2D, Discriminator2D, EpsMLP, Generator2D
from gen.vae import elbo, gaussian_log_likelihood, kl_gaussian, reparameterize
from gen.work import one_thread

CAP = 20_000  # parameter updates per model and session: a forgotten tab stops training by itself


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
        # the CPU generator alone: torch.manual_seed also queues seeds for CUDA/XPU/MTIA, formatting a stack trace
        # each time (0.3 ms a training step, measured: a tenth of a toy model's step)
        torch.default_generator.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        yield


def _adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam, as one fused kernel where this torch has it for the CPU (2.4 and later): the same update, and a
    playground step of these small models 35% faster (3.5 -> 2.3 ms for the DDPM's, measured)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):  # an older torch: the plain loop
        return torch.optim.Adam(params, lr=lr, betas=betas)


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "Adam":
        return _adam(params, lr, betas=(0.5, 0.999))
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; use 'Adam' or 'SGD'")


class History:
    """Per-update values, column by column: appending is O(1) and binning 20,000 updates takes a fraction of a ms.
    Reads like a list of dicts ({"step": ..., key: value}) for code that wants rows."""

    def __init__(self) -> None:
        self.step = array("q")
        self.cols: dict[str, array | list] = {}  # numbers as array("d"), anything else (a GAN step's kind) a list

    def __len__(self) -> int:
        return len(self.step)

    def append(self, step: int, **values: float | str) -> None:
        n = len(self.step)
        for k, v in values.items():
            if k not in self.cols:
                self.cols[k] = [None] * n if isinstance(v, str) else array("d", [float("nan")] * n)
            col = self.cols[k]
            col.append(v if isinstance(col, list) else float(v))
        self.step.append(int(step))
        for col in self.cols.values():
            if len(col) < n + 1:
                col.append(None if isinstance(col, list) else float("nan"))

    def row(self, i: int) -> dict:
        return {"step": self.step[i], **{k: col[i] for k, col in self.cols.items()}}

    def __getitem__(self, i: int | slice) -> dict | list[dict]:
        if isinstance(i, slice):
            return [self.row(j) for j in range(len(self))[i]]
        return self.row(range(len(self))[i])

    def __iter__(self) -> Iterator[dict]:
        return (self.row(i) for i in range(len(self)))

    def last(self) -> dict | None:
        return self[-1] if len(self) else None

    def binned(self, series: dict[str, str], max_points: int = 250) -> list[dict]:
        """Each key of `series` averaged in at most max_points bins of steps: [{label, x, y}], x the bin's last step."""
        out = []
        n = len(self.step)
        if not n:
            return out
        steps = np.frombuffer(self.step, dtype=np.int64)
        bins = np.minimum((steps - 1) * max_points // max(1, int(steps[-1])), max_points - 1)
        edges = np.flatnonzero(np.diff(bins)) + 1  # steps only grow: bins are runs
        starts = np.concatenate([[0], edges])
        x = steps[np.concatenate([edges - 1, [n - 1]])]
        for key, label in series.items():
            if not isinstance(self.cols.get(key), array):
                continue
            v = np.frombuffer(self.cols[key], dtype=np.float64)
            ok = ~np.isnan(v)
            sums = np.add.reduceat(np.where(ok, v, 0.0), starts)
            counts = np.add.reduceat(ok.astype(np.int64), starts)
            keep = counts > 0
            out.append({"label": label, "x": x[keep].tolist(), "y": (sums[keep] / counts[keep]).tolist()})
        return out


class Trainer:
    """What all three trainers share: the data, a seeded RNG, an update counter with a hard cap, a history."""

    family = ""

    def __init__(self, data: ToyData, seed: int = 0, batch: int = 128, per_frame: int = 10):
        self.data, self.seed, self.batch = data, int(seed), int(batch)
        self.rng = torch.Generator().manual_seed(int(seed) + 1)
        self.updates = 0
        self.history = History()
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

    def curves(self, series: dict[str, str], max_points: int = 250) -> list[dict]:
        """The history averaged into at most max_points bins per series: [{label, x, y}] (x: the bin's last step)."""
        return self.history.binned(series, max_points)

    def summary(self) -> dict:
        return {"family": self.family, "data": self.data.name, "n": len(self.data.x), "seed": self.seed,
                "updates": self.updates, "cap": CAP, "last": self.history.last(),
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
        self.history.append(self.updates, kind=self.last, **self.stats)

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


# Algorithm 2's chains of untrained models by (weights, schedule, T, seed, n): a class opening the playground on the
# same settings has one untrained model, so its first frames share one chain (T network calls) instead of 40.
CHAINS = SharedCache(16 * 2**20)


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
        self.opt = _adam(self.model.parameters(), self.lr)
        # fixed eps for the shown points: the cloud dissolves smoothly as t grows
        self.view_eps = diffusion.noise((len(self.view_idx), 2), int(seed) + 5)
        self.loss = float("nan")
        self.chain_seed = int(seed)
        self._chain: tuple[int, int, np.ndarray] | None = None  # (updates, seed, chain)
        self._dist: tuple[np.ndarray, float] | None = None  # (chain, its x_0's chamfer distance to the data)

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
            self.history.append(self.updates, loss=self.loss)
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
        if self.updates == 0:  # an untrained model: the class on the same settings has the same one, share it
            weights = hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in self.model.parameters())).digest()
            out = CHAINS.get((weights, self.schedule, self.T, seed, n), lambda: self._run_chain(n, seed))
        else:  # a visitor's own training: nobody else has these weights, nothing to share
            out = self._run_chain(n, seed)
        self._chain = (self.updates, seed, out)
        return out

    def _run_chain(self, n: int, seed: int) -> np.ndarray:
        x = diffusion.noise((n, 2), seed)
        out = np.empty((self.T + 1, n, 2), dtype=np.float32)
        out[self.T] = x.numpy()
        for s in diffusion.sample_steps(self.model, self.sch, x, seed):
            out[s.t - 1] = s.prev_sample.numpy()
        out.setflags(write=False)  # shared by every trainer with these weights
        return out

    def chamfer_to_data(self, chain: np.ndarray) -> float:
        """Mean nearest-neighbour distance between Algorithm 2's x_0 and the shown data. Kept per chain: the
        numbers ask several times a second while playing, and a chain is rerun far less often."""
        if self._dist is None or self._dist[0] is not chain:
            self._dist = (chain, chamfer(chain[0], self.data.x[self.view_idx]))
        return self._dist[1]

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
                 loss=self.loss, chamfer=round(self.chamfer_to_data(self.chain()), 4))
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
        self.opt = _adam(self.model.parameters(), self.lr)
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
            self.history.append(self.updates, **self.terms)
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



# ---- settings: every hyper-parameter by name -------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Settings:
    """A family's hyper-parameters by name. The field order is the order of the tab's inputs (and the API's)."""

    data: str = "ring"
    n: int = 2000
    seed: int = 0
    RESETS: ClassVar[tuple[str, ...]] = ("data", "n", "seed")  # fields whose change builds a new model

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, *values) -> Settings:
        """From the tab's values in field order, each converted to its field's type; ValueError for the user."""
        fields = dataclasses.fields(cls)
        if len(values) != len(fields):
            raise ValueError(f"expected {len(fields)} settings ({', '.join(cls.names())}), got {len(values)}")
        kw = {}
        for f, v in zip(fields, values):
            kind = type(f.default)
            try:
                if v is None or v == "":
                    raise ValueError
                kw[f.name] = int(float(v)) if kind is int else kind(v)
            except (TypeError, ValueError) as e:
                what = {int: "a whole number", float: "a number"}.get(kind, "a value")
                raise ValueError(f"the setting {f.name!r} needs {what}, got {v!r}") from e
        if kw["data"] not in DATASETS:
            raise ValueError(f"unknown data set {kw['data']!r}; pick one of {', '.join(DATASETS)}")
        return cls(**kw)

    def key(self) -> tuple:
        """What the model was built from: a change of any of these needs a new model."""
        return tuple(getattr(self, name) for name in self.RESETS)

    def build(self, data: ToyData) -> Trainer:
        raise NotImplementedError

    def apply(self, tr: Trainer) -> None:
        """Set the settings that change while training (learning rates, k, ...) on an existing trainer."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class GANSettings(Settings):
    data: str = "ring"
    z_dim: int = 2
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    optimizer: str = "Adam"
    k: int = 1
    loss: str = "non-saturating"
    per_frame: int = 5  # Play: iterations per frame
    RESETS: ClassVar[tuple[str, ...]] = ("data", "n", "seed", "z_dim")

    def build(self, data: ToyData) -> GANTrainer:
        return GANTrainer(data, z_dim=self.z_dim, lr_d=self.lr_d, lr_g=self.lr_g, optimizer=self.optimizer, k=self.k,
                          loss=self.loss, seed=self.seed, per_frame=self.per_frame)

    def apply(self, tr: GANTrainer) -> None:
        tr.configure(lr_d=self.lr_d, lr_g=self.lr_g, optimizer=self.optimizer, k=self.k, loss=self.loss,
                     per_frame=self.per_frame)


@dataclasses.dataclass(frozen=True)
class DDPMSettings(Settings):
    data: str = "spiral"
    schedule: str = "linear"
    T: int = 100
    lr: float = 3e-3
    per_frame: int = 10  # Play: updates per frame
    RESETS: ClassVar[tuple[str, ...]] = ("data", "n", "seed", "schedule", "T")

    def build(self, data: ToyData) -> DDPMTrainer:
        return DDPMTrainer(data, schedule=self.schedule, T=self.T, lr=self.lr, seed=self.seed, per_frame=self.per_frame)

    def apply(self, tr: DDPMTrainer) -> None:
        tr.configure(lr=self.lr, per_frame=self.per_frame)


@dataclasses.dataclass(frozen=True)
class VAESettings(Settings):
    data: str = "moons"
    latent: int = 2
    lr: float = 3e-3
    beta: float = 1.0
    s: float = 0.1
    per_frame: int = 10  # Play: updates per frame
    RESETS: ClassVar[tuple[str, ...]] = ("data", "n", "seed", "latent")

    def build(self, data: ToyData) -> VAETrainer:
        return VAETrainer(data, latent=self.latent, lr=self.lr, beta=self.beta, s=self.s, seed=self.seed,
                          per_frame=self.per_frame)

    def apply(self, tr: VAETrainer) -> None:
        tr.configure(lr=self.lr, beta=self.beta, s=self.s, per_frame=self.per_frame)
