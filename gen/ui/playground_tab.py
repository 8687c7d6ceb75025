"""The Training playground tab: a GAN, a DDPM and a VAE learning 2-D data live, with the lecture's algorithms.

Each visitor's models live in a `Playground` kept in gr.State; Play streams frames (an inline JPEG in gr.HTML,
so frames are never written to the server's disk) and stops on Pause, when the page goes away, or at the
step cap. The math is gen/toy.py's, which reuses the image models' functions.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import gradio as gr
import numpy as np

from gen import toy
from gen.images import data_url
from gen.ui.common import friendly

FPS = 15  # at most this many frames per second while playing
CHAIN_EVERY = 0.25  # s between re-runs of the DDPM's reverse chain while playing
TEXT_EVERY = 0.25  # s between updates of the numbers while playing
PLOT_EVERY = 0.6  # s between loss-plot updates while playing (a Vega re-render costs the browser more than a frame)
VIEW = 420  # px a view is shown at (the main view fits a 1280x720 screen without scrolling)
VAE_DATA, VAE_LATENT = 400, 280  # the VAE shows data and latent space side by side
PLAY = dict(concurrency_id="toy_play", concurrency_limit=4, show_progress="hidden")
STEP = dict(concurrency_id="toy_step", concurrency_limit=4, show_progress="hidden", trigger_mode="multiple")
LIVE = {**STEP, "trigger_mode": "always_last"}  # settings and sliders: only the latest value matters
DATA = [(toy.LABELS[k], k) for k in toy.DATASETS]
D_COLOURS = ((196, 160, 228), (120, 200, 135))  # as toy.d_heatmap: D = 0 purple, D = 1 green
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


class Playground:
    """One visitor's three models and drawing. Every handler of the tab takes the lock, so Play and the step
    buttons never update a model at the same time."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.gan: toy.GANTrainer | None = None
        self.ddpm: toy.DDPMTrainer | None = None
        self.vae: toy.VAETrainer | None = None
        self.keys: dict[str, tuple] = {}  # the settings each model was built with
        self.points: list[tuple[float, float]] = []  # the drawing, in data coordinates
        self.spread = 0.15
        self.ddpm_t = 0  # the t the DDPM view shows
        self.ddpm_seed = 0  # x_T of the shown reverse chain
        self.chain_time = 0.0  # when the shown reverse chain was last computed
        self.vae_ylim: list[int] | None = None  # the VAE plot's y axis as last sent
        self.ddpm_mode = "train"  # "train" or "sample": which algorithm the DDPM panel highlights

    def data(self, name: str, n: float, seed: float) -> toy.ToyData:
        return toy.make_data(name, int(n), int(seed), self.points, self.spread)

    def summary(self) -> dict:
        with self.lock:
            return {"gan": self.gan.summary() if self.gan else None,
                    "ddpm": self.ddpm.summary() if self.ddpm else None,
                    "vae": self.vae.summary() if self.vae else None,
                    "drawn_points": len(self.points), "cap": toy.CAP}


def _box(box: Playground | None) -> Playground:
    return box if isinstance(box, Playground) else Playground()


def _ensure(box: Playground, family: str, key: tuple, make: Callable[[], toy.Trainer], reset: bool = False):
    """The family's model, rebuilt when its data or architecture settings changed (or on Reset)."""
    if key[0] == "drawn":
        key = (*key, tuple(box.points), box.spread)
    if reset or getattr(box, family) is None or box.keys.get(family) != key:
        setattr(box, family, make())
        box.keys[family] = key
    return getattr(box, family)


def img(a: np.ndarray, alt: str, width: int = VIEW) -> str:
    return (f"<img src='{data_url(a, 'JPEG')}' alt='{alt}' width='{width}' height='{width * a.shape[0] // a.shape[1]}' "
            f"style='max-width:100%;height:auto;display:block;border:1px solid #ccc;border-radius:4px'>")


def _rgb(c) -> str:
    return "rgb({},{},{})".format(*c)


def legend(items: list[tuple[str, tuple[int, int, int] | str, str]]) -> str:
    """One line under a view: ('dot' | 'arrow' | 'ring' | 'bar', colour or CSS, text)."""
    out = []
    for kind, col, text in items:
        c = _rgb(col) if isinstance(col, tuple) else col
        mark = {"dot": f"<span style='color:{c};font-size:1.25em'>●</span>",
                "arrow": f"<span style='color:{c};font-weight:700'>➜</span>",
                "ring": f"<span style='color:{c};font-size:1.2em'>◯</span>",
                "bar": f"<span style='display:inline-block;width:54px;height:.8em;background:{c};"
                       "border:1px solid #aaa;vertical-align:middle'></span>"}[kind]
        out.append(f"<span style='white-space:nowrap'>{mark} {text}</span>")
    return ("<div style='display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.88rem;margin-top:3px'>"
            + "".join(out) + "</div>")


def figure(a: np.ndarray, alt: str, items: list, width: int = VIEW) -> str:
    return f"<div style='width:{width}px;max-width:100%'>{img(a, alt, width)}{legend(items)}</div>"


def algorithm(title: str, lines: list[tuple[int, str]], active: set[int]) -> str:
    """An algorithm box with the lines just performed highlighted."""
    rows = []
    for i, (indent, text) in enumerate(lines):
        on = i in active
        style = (f"padding:1px 6px 1px {0.4 + 1.4 * indent}em;border-left:5px solid "
                 + ("#e8a200;background:rgba(255,196,0,.33);font-weight:600" if on else "transparent"))
        rows.append(f"<div style='{style}'>{text}</div>")
    return (f"<div style='font-size:.95rem;line-height:1.45'><div style='font-weight:700;margin-bottom:2px'>{title}"
            f"</div><div style='font-family:ui-monospace,monospace;font-size:.86rem'>{''.join(rows)}</div></div>")


def _throttle(plots: bool, *values):
    """Loss plots: only every PLOT_EVERY seconds while playing; None (an empty plot) before the first update."""
    if not plots:
        return tuple(gr.skip() for _ in values)
    return tuple(v if len(v) else None for v in values)


def _f(v: float, digits: int = 3) -> str:
    return "—" if v != v else f"{v:.{digits}f}"


def _numbers(lines: list[str], note: str = "") -> str:
    body = "<br>".join(lines) + (f"<div style='margin-top:6px;color:#b00'><b>{note}</b></div>" if note else "")
    return f"<div style='font-size:.95rem;line-height:1.5;margin-top:8px'>{body}</div>"


def _play(box: Playground, family: str, advance: Callable[[toy.Trainer], bool],
          frame: Callable[[Playground, bool, str], tuple]) -> Iterator[tuple]:
    """Train in small chunks and stream a frame after each, at most FPS a second, until Pause, the page
    closes (Gradio then stops iterating this generator) or the model reaches toy.CAP updates.

    The view goes out with every frame; the text outputs at most every TEXT_EVERY s and only when changed,
    the plots every PLOT_EVERY s: each updated component costs the browser time, the view is what moves.
    """
    next_plot = next_text = 0.0
    last: dict[int, object] = {}  # text outputs as last sent
    while True:
        t0 = time.perf_counter()
        with box.lock:
            if not advance(getattr(box, family)):
                yield frame(box, True, f"Stopped: {toy.CAP:,} updates is the cap per model and session. "
                                       "Press Reset to train again.")
                return
            plots = t0 >= next_plot
            out = list(frame(box, plots, ""))
        if plots:
            next_plot = t0 + PLOT_EVERY
        text = t0 >= next_text
        if text:
            next_text = t0 + TEXT_EVERY
        for i, v in enumerate(out):
            if 0 < i < len(out) - 1 and isinstance(v, str | int | float):  # not the view, not the state
                if text and last.get(i) != v:
                    last[i] = v
                else:
                    out[i] = gr.skip()
        yield tuple(out)
        time.sleep(max(0.0, 1 / FPS - (time.perf_counter() - t0)))


# ---- GAN ---------------------------------------------------------------------------------------

def _gan_lines(tr: toy.GANTrainer) -> list[tuple[int, str]]:
    g = ("descending ∇<sub>θg</sub> (1/m) Σ log(1 − D(G(z⁽ⁱ⁾)))" if tr.loss == "minimax"
         else "ascending ∇<sub>θg</sub> (1/m) Σ log D(G(z⁽ⁱ⁾)) <i>(non-saturating)</i>")
    return [(0, "for number of training iterations do"),
            (1, f"for k = {tr.k} step{'s' if tr.k > 1 else ''} do"),
            (2, f"sample m = {tr.batch} noise samples z⁽ⁱ⁾ ~ p<sub>z</sub>(z) = N(0, I<sub>{tr.z_dim}</sub>)"),
            (2, f"sample m = {tr.batch} examples x⁽ⁱ⁾ from the data"),
            (2, "update D by ascending ∇<sub>θd</sub> (1/m) Σ [log D(x⁽ⁱ⁾) + log(1 − D(G(z⁽ⁱ⁾)))]"),
            (1, "end for"),
            (1, f"sample m = {tr.batch} noise samples z⁽ⁱ⁾ ~ p<sub>z</sub>(z)"),
            (1, f"update G by {g}"),
            (0, "end for")]


def _gan_numbers(tr: toy.GANTrainer, note: str) -> str:
    s = tr.stats
    lines = [f"iteration <b>{tr.iterations:,}</b> · updates <b>{tr.updates:,}</b> / {toy.CAP:,}"
             + (f" · D steps into this iteration: {tr.phase}/{tr.k}" if tr.phase else ""),
             f"D loss −[log D(x) + log(1 − D(G(z)))] = <b>{_f(s['d_loss'])}</b> (2 log 2 = 1.386 at equilibrium)",
             f"G loss ({tr.loss}) = <b>{_f(s['g_loss'])}</b>",
             f"mean D(x) = <b>{_f(s['d_real'], 2)}</b> · mean D(G(z)) = <b>{_f(s['d_fake'], 2)}</b> (both → ½)"]
    out = float((tr.fakes().abs() > toy.R).any(1).float().mean())
    if out > 0.01:
        lines.append(f"G(z) outside the view (drawn on its border): <b>{100 * out:.0f}%</b>")
    if tr.data.name == "ring":
        c = toy.ring_coverage(tr.fakes())
        lines.append(f"modes covered <b>{c.modes}/8</b> · samples on a mode (within 3σ): <b>{100 * c.good:.0f}%</b>")
    return _numbers(lines, note)


def _gan_frame(box: Playground, plots: bool = True, note: str = "") -> tuple:
    tr = box.gan
    active = {2, 3, 4} if tr.last == "d" else {6, 7} if tr.last == "g" else set()
    items = [("dot", toy.REAL, "real data x"), ("dot", toy.FAKE, "generated G(z)"),
             ("arrow", toy.ARROW, "G's update direction on G(z)"),
             ("bar", f"linear-gradient(90deg,{_rgb(D_COLOURS[0])},white,{_rgb(D_COLOURS[1])})", "D(x): 0 · ½ · 1")]
    return (figure(toy.gan_view(tr, VIEW), "GAN view", items),
            algorithm("Algorithm 1 (Goodfellow et al. 2014)", _gan_lines(tr), active),
            _gan_numbers(tr, note), tr.updates,
            *_throttle(plots, tr.curves({"d_loss": "D loss", "g_loss": "G loss"}),
                       tr.curves({"d_real": "mean D(x)", "d_fake": "mean D(G(z))"})), box)


def _gan(box, data, n, seed, z_dim, lr_d, lr_g, opt, k, loss, per_frame, reset=False) -> Playground:
    box = _box(box)
    tr = _ensure(box, "gan", (data, int(n), int(seed), int(z_dim)),
                 lambda: toy.GANTrainer(box.data(data, n, seed), z_dim=int(z_dim), lr_d=float(lr_d),
                                        lr_g=float(lr_g), optimizer=opt, k=int(k), loss=loss, seed=int(seed),
                                        per_frame=int(per_frame)), reset)
    tr.configure(lr_d=float(lr_d), lr_g=float(lr_g), optimizer=opt, k=int(k), loss=loss, per_frame=int(per_frame))
    return box


@friendly
def gan_reset(box, *hp):
    """A fresh G and D on the chosen data."""
    box = _box(box)
    with box.lock:
        return _gan_frame(_gan(box, *hp, reset=True))


@friendly
def gan_d_step(box, *hp):
    """Exactly one discriminator update (lines 3-5 of Algorithm 1); G is unchanged."""
    box = _box(box)
    with box.lock:
        _gan(box, *hp).gan.d_step()
        return _gan_frame(box)


@friendly
def gan_g_step(box, *hp):
    """Exactly one generator update (lines 7-8); D is unchanged."""
    box = _box(box)
    with box.lock:
        _gan(box, *hp).gan.g_step()
        return _gan_frame(box)


@friendly
def gan_iteration(box, *hp):
    """One full iteration: the rest of the k D steps, then one G step."""
    box = _box(box)
    with box.lock:
        _gan(box, *hp).gan.step(1)
        return _gan_frame(box)


@friendly
def gan_configure(box, *hp):
    """A hyper-parameter changed: applied at once, also while playing (the view redraws: G's gradient depends on the
    loss)."""
    if not isinstance(box, Playground) or box.gan is None:
        return tuple(gr.skip() for _ in range(7))
    with box.lock:
        return _gan_frame(_gan(box, *hp))


def gan_play(box, *hp):
    box = _box(box)
    with box.lock:
        try:
            _gan(box, *hp)
        except ValueError as e:
            raise gr.Error(str(e)) from e

    def advance(tr: toy.GANTrainer) -> bool:
        if tr.remaining() < tr.k + 1:
            return False
        tr.step(max(1, min(tr.per_frame, tr.remaining() // (tr.k + 1))))
        return True
    yield from _play(box, "gan", advance, _gan_frame)


# ---- DDPM --------------------------------------------------------------------------------------

def _ddpm_algorithms(tr: toy.DDPMTrainer, t: int, mode: str) -> str:
    train = [(0, "repeat"),
             (1, "x<sub>0</sub> ~ q(x<sub>0</sub>) (a minibatch of the data)"),
             (1, f"t ~ Uniform({{1, …, {tr.T}}}) · ε ~ N(0, I)"),
             (1, "gradient step on ∇<sub>θ</sub> ‖ε − ε<sub>θ</sub>(√ᾱ<sub>t</sub> x<sub>0</sub> + "
                 "√(1 − ᾱ<sub>t</sub>) ε, t)‖²"),
             (0, "until converged")]
    sample = [(0, "x<sub>T</sub> ~ N(0, I)"),
              (0, f"for t = {tr.T}, …, 1 do  <i>(now t = {t})</i>"),
              (1, "z ~ N(0, I) if t > 1, else z = 0"),
              (1, "x<sub>t−1</sub> = 1/√α<sub>t</sub> (x<sub>t</sub> − (1 − α<sub>t</sub>)/√(1 − ᾱ<sub>t</sub>) "
                  "ε<sub>θ</sub>(x<sub>t</sub>, t)) + σ<sub>t</sub> z"),
              (0, "end for; return x<sub>0</sub>")]
    on_train = {1, 2, 3} if mode == "train" and tr.updates else set()
    on_sample = ({0} if t == tr.T else {1, 2, 3} if t > 0 else {4}) if mode == "sample" else set()
    return (algorithm("Algorithm 1: training (Ho et al. 2020)", train, on_train) + "<div style='height:8px'></div>"
            + algorithm("Algorithm 2: sampling", sample, on_sample))


def _ddpm_numbers(tr: toy.DDPMTrainer, t: int, chain: np.ndarray, note: str) -> str:
    ab = float(tr.sch.alpha_bar[t])
    dist = toy.chamfer(chain[0], tr.data.x[tr.view_idx])
    lines = [f"updates <b>{tr.updates:,}</b> / {toy.CAP:,} · L<sub>simple</sub> = <b>{_f(tr.loss)}</b> (last batch; "
             "1 = knows nothing)",
             f"t = <b>{t}</b> ({tr.schedule}, T = {tr.T}): β<sub>t</sub> = {float(tr.sch.beta[t]):.4f}, "
             f"√ᾱ<sub>t</sub> = <b>{ab ** 0.5:.3f}</b>, √(1 − ᾱ<sub>t</sub>) = <b>{(1 - ab) ** 0.5:.3f}</b>",
             f"samples x<sub>0</sub> vs data: mean nearest-neighbour distance <b>{dist:.3f}</b>"]
    return _numbers(lines, note)


def _ddpm_frame(box: Playground, plots: bool = True, note: str = "", playing: bool = False) -> tuple:
    tr = box.ddpm
    t = int(min(max(box.ddpm_t, 0), tr.T))
    now = time.perf_counter()
    # Algorithm 2 costs T network calls: while playing, it reruns every CHAIN_EVERY s, not for every frame
    fresh = not playing or now - box.chain_time >= CHAIN_EVERY
    chain = tr.chain(seed=box.ddpm_seed, stale_ok=not fresh)
    if fresh:
        box.chain_time = now
    items = [("dot", toy.FORWARD, f"data noised: q(x<sub>t</sub> | x<sub>0</sub>), t = {t}"),
             ("dot", toy.REVERSE, f"Algorithm 2 from x<sub>T</sub> ~ N(0, I), at t = {t}"),
             ("arrow", toy.FIELD, f"−ε<sub>θ</sub>(x, {max(t, 1)})"), ("dot", toy.FAINT, "data")]
    return (figure(toy.ddpm_view(tr, t, chain, VIEW), "DDPM view", items), _ddpm_algorithms(tr, t, box.ddpm_mode),
            _ddpm_numbers(tr, t, chain, note), tr.updates,
            *_throttle(plots, tr.curves({"loss": "L_simple"})), box)


def _ddpm(box, data, n, seed, schedule, T, lr, per_frame, reset=False) -> Playground:
    box = _box(box)
    tr = _ensure(box, "ddpm", (data, int(n), int(seed), schedule, int(T)),
                 lambda: toy.DDPMTrainer(box.data(data, n, seed), schedule=schedule, T=int(T), lr=float(lr),
                                         seed=int(seed), per_frame=int(per_frame)), reset)
    tr.configure(lr=float(lr), per_frame=int(per_frame))
    box.ddpm_t = min(box.ddpm_t, tr.T)
    return box


@friendly
def ddpm_reset(box, *hp):
    box = _box(box)
    with box.lock:
        box.ddpm_mode = "train"
        return _ddpm_frame(_ddpm(box, *hp, reset=True))


@friendly
def ddpm_step(box, n_steps, *hp):
    """n gradient steps of Algorithm 1 (n = 1, 10 or 100)."""
    box = _box(box)
    with box.lock:
        _ddpm(box, *hp).ddpm.step(int(n_steps))
        box.ddpm_mode = "train"
        return _ddpm_frame(box)


@friendly
def ddpm_show_t(box, t, *hp):
    """Show step t: the data noised to t and the reverse chain at t (no training)."""
    box = _box(box)
    with box.lock:
        _ddpm(box, *hp)
        box.ddpm_t = int(t)
        return _ddpm_frame(box)


@friendly
def ddpm_configure(box, *hp):
    if not isinstance(box, Playground) or box.ddpm is None:
        return tuple(gr.skip() for _ in range(6))
    with box.lock:
        return _ddpm_frame(_ddpm(box, *hp))


def ddpm_play(box, *hp):
    box = _box(box)
    with box.lock:
        try:
            _ddpm(box, *hp)
        except ValueError as e:
            raise gr.Error(str(e)) from e
        box.ddpm_mode = "train"

    yield from _play(box, "ddpm", _advance_one_frame, lambda b, plots, note: _ddpm_frame(b, plots, note, playing=True))


def ddpm_sample(box, *hp):
    """Algorithm 2 on fresh x_T ~ N(0, I), animated from t = T down to 0 with the noise field at each t."""
    box = _box(box)
    with box.lock:
        try:
            tr = _ddpm(box, *hp).ddpm
        except ValueError as e:
            raise gr.Error(str(e)) from e
        box.ddpm_seed += 1
        box.ddpm_mode = "sample"
        tr.chain(seed=box.ddpm_seed)
        ts = sorted(set(range(tr.T, -1, -max(1, tr.T // 50))) | {0}, reverse=True)
    for t in ts:
        t0 = time.perf_counter()
        with box.lock:
            if box.ddpm is not tr:
                return
            box.ddpm_t = t
            out = (*_ddpm_frame(box, plots=False), t)
        yield out
        time.sleep(max(0.0, 1 / FPS - (time.perf_counter() - t0)))


# ---- VAE ---------------------------------------------------------------------------------------

def _vae_numbers(tr: toy.VAETrainer, note: str) -> str:
    e = tr.terms
    obj = e["recon"] - tr.beta * e["kl"]
    return _numbers([
        "<b>ELBO = E<sub>q</sub>[log p(x|z)] − KL(q(z|x) ‖ p(z))</b> ≤ log p(x)",
        f"E[log p(x|z)] = <b>{_f(e['recon'])}</b>", f"KL = <b>{_f(e['kl'])}</b>",
        f"ELBO = <b>{_f(e['elbo'])}</b> nats (a batch mean)",
        f"trained on E[log p(x|z)] − β·KL, β = <b>{tr.beta:g}</b>: <b>{_f(obj)}</b>",
        f"updates <b>{tr.updates:,}</b> / {toy.CAP:,}"], note)


def _vae_equations(latent: int, s: float) -> str:
    return (f"**Encoder** q(z|x) = N(μ(x), diag σ²(x)), z ∈ ℝ^{latent}; **reparameterisation** z = μ + σ ⊙ ε, "
            f"ε ~ N(0, I).  \n**Gaussian decoder** log p(x|z) = −‖x − g(z)‖² / (2s²) − log(2πs²), s = {s:g} "
            "(the 28×28 VAE uses the Bernoulli one, −BCE).  \n**KL** per latent dimension: "
            "−KL = ½ (1 + log σ² − σ² − μ²).  \n**β**: β > 1 pulls the codes onto the prior (smoother, blurrier "
            "samples, more overlap in latent space); β < 1 favours reconstruction (codes spread out, holes between "
            "them, worse samples from p(z)); β = 0 is a plain autoencoder with noise.")


def _advance_one_frame(tr: toy.DDPMTrainer | toy.VAETrainer) -> bool:
    """One Play frame's worth of updates for a single-network trainer; False once the session cap is reached."""
    if tr.remaining() <= 0:
        return False
    tr.step(tr.per_frame)
    return True


def _vae_frame(box: Playground, plots: bool = True, note: str = "") -> tuple:
    tr = box.vae
    data_im, lat_im = toy.vae_view(tr, VAE_DATA, VAE_LATENT)
    rainbow = "linear-gradient(90deg,#c33,#cc3,#3c3,#3cc,#33c,#c3c)"
    left = figure(data_im, "VAE data space", [("bar", rainbow, "data x (colour: where it lies)"),
                                              ("dot", (30, 30, 30), "g(z), z ~ N(0, I)")], VAE_DATA)
    right = figure(lat_im, "VAE latent space", [("bar", rainbow, "μ(x) of the same points"),
                                                ("ring", (120, 120, 120), "1σ, 2σ of N(0, I)" if tr.latent == 2
                                                 else "N(0, 1) density")], VAE_LATENT)
    view = f"<div style='display:flex;gap:10px'>{left}{right}</div>"
    return (view, _vae_numbers(tr, note), tr.updates, _vae_plot(box) if plots else gr.skip(),
            _vae_equations(tr.latent, tr.s), box)


def _vae_plot(box: Playground):
    """The curves, the y axis fitted to all but the first 5% of training (the first steps are far off).

    New axis limits re-create the plot in the browser (slow), so they go out only when they change by a nat.
    """
    df = box.vae.curves({"recon": "E[log p(x|z)]", "kl": "KL", "elbo": "ELBO"})
    if not len(df):
        box.vae_ylim = None
        return None
    late = df[df["step"] >= 0.05 * df["step"].max()]["value"]
    lo, hi = float(late.min()), float(late.max())
    pad = 0.1 * max(hi - lo, 1.0)
    ylim = [math.floor(lo - pad), math.ceil(hi + pad)]
    if ylim == box.vae_ylim:
        return df
    box.vae_ylim = ylim
    return gr.LinePlot(df, y_lim=ylim)


def _vae(box, data, n, seed, latent, lr, beta, s, per_frame, reset=False) -> Playground:
    box = _box(box)
    tr = _ensure(box, "vae", (data, int(n), int(seed), int(latent)),
                 lambda: toy.VAETrainer(box.data(data, n, seed), latent=int(latent), lr=float(lr), beta=float(beta),
                                        s=float(s), seed=int(seed), per_frame=int(per_frame)), reset)
    tr.configure(lr=float(lr), beta=float(beta), s=float(s), per_frame=int(per_frame))
    return box


@friendly
def vae_reset(box, *hp):
    box = _box(box)
    with box.lock:
        return _vae_frame(_vae(box, *hp, reset=True))


@friendly
def vae_step(box, n_steps, *hp):
    """n gradient steps on the (beta-weighted) negative ELBO."""
    box = _box(box)
    with box.lock:
        _vae(box, *hp).vae.step(int(n_steps))
        return _vae_frame(box)


@friendly
def vae_configure(box, *hp):
    if not isinstance(box, Playground) or box.vae is None:
        return tuple(gr.skip() for _ in range(6))
    with box.lock:
        return _vae_frame(_vae(box, *hp))


def vae_play(box, *hp):
    box = _box(box)
    with box.lock:
        try:
            _vae(box, *hp)
        except ValueError as e:
            raise gr.Error(str(e)) from e

    yield from _play(box, "vae", _advance_one_frame, _vae_frame)


# ---- your own data -----------------------------------------------------------------------------

def _draw_frame(box: Playground):
    data = box.data("drawn", 1500, 0) if box.points else None
    n = len(box.points)
    md = (f"{n} point{'s' if n != 1 else ''} drawn; the data set is each point jittered by N(0, {box.spread:g}²). "
          "Pick **your drawing** as the data in the GAN, DDPM or VAE tab.")
    return toy.data_view(box.points, data, VIEW), md, box


def draw_click(box, spread, evt: gr.SelectData):
    box = _box(box)
    with box.lock:
        box.spread = float(spread)
        x, y = toy.from_px(evt.index[0], evt.index[1], VIEW)
        box.points.append((round(x, 3), round(y, 3)))
        return _draw_frame(box)


def draw_edit(box, spread, what: str):
    box = _box(box)
    with box.lock:
        box.spread = float(spread)
        if what == "undo" and box.points:
            box.points.pop()
        elif what == "clear":
            box.points.clear()
        elif what in toy.DATASETS and what != "drawn":  # start from 24 points of a built-in set
            box.points[:] = [tuple(round(float(v), 3) for v in p) for p in toy.make_data(what, 24, 1).x.tolist()]
        return _draw_frame(box)


def _json(v):
    """NaN (no value yet) as null: JSON has no NaN."""
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json(x) for x in v]
    return None if isinstance(v, float) and v != v else v


def state(box):
    """Every model's settings, counters and last losses (the API's toy_state)."""
    return _json(_box(box).summary())


# ---- layout ------------------------------------------------------------------------------------

INTRO = ("On 2-D points every model is small enough to train **live** on this server's CPU. Press **▶ Play**, change "
         "settings while it runs, or step through the algorithms one line at a time. Same math as the image tabs: "
         "`gen.gan.d_loss / g_loss`, `gen.diffusion.q_sample / loss_simple / p_sample`, `gen.vae.elbo`.")
GAN_HINT = ("**Try:** 8 Gaussians with the defaults (non-saturating, learning rates 0.001) covers all 8 modes in "
            "about 1,000 iterations. **Mode collapse:** set both learning rates to 0.03 and Reset: G puts every sample "
            "on one mode, D paints that mode purple, G hops to another. With *minimax* at 0.03, D wins and G's "
            "gradient log(1 − D(G(z))) vanishes where D is sure: the arrows shrink and G drifts off.")


def _controls(prefix: str):
    with gr.Row():
        play = gr.Button("▶ Play", variant="primary", elem_id=f"{prefix}-play", min_width=80, size="md")
        pause = gr.Button("Pause", variant="stop", elem_id=f"{prefix}-pause", min_width=80, size="md")
    return play, pause


def build(demo: gr.Blocks) -> None:
    box = gr.State(None)
    ro = dict(interactive=False, precision=0, min_width=80)

    with gr.Tab("GAN", id="toy-gan"):
        with gr.Row():
            with gr.Column(scale=0, min_width=270):
                g_data = gr.Dropdown(DATA, value="ring", label="data", elem_id="toy-gan-data")
                g_loss = gr.Radio(["non-saturating", "minimax"], value="non-saturating", label="G loss")
                g_play, g_pause = _controls("toy-gan")
                with gr.Row():
                    g_d = gr.Button("D step", min_width=80, elem_id="toy-gan-d", size="md")
                    g_g = gr.Button("G step", min_width=80, elem_id="toy-gan-g", size="md")
                with gr.Row():
                    g_it = gr.Button("Iteration", min_width=80, elem_id="toy-gan-iter", size="md")
                    g_reset = gr.Button("Reset", min_width=80, elem_id="toy-gan-reset", size="md")
                g_count = gr.Number(0, label="updates (D + G)", elem_id="toy-gan-updates", **ro)
            with gr.Column(scale=0, min_width=VIEW + 10):
                g_view = gr.HTML(elem_id="toy-gan-view", min_height=VIEW)
            with gr.Column(scale=1, min_width=300):
                g_alg = gr.HTML(elem_id="toy-gan-algorithm")
                g_num = gr.HTML(elem_id="toy-gan-numbers")
        with gr.Row():
            g_loss_plot = gr.LinePlot(x="step", y="value", color="series", height=230, title="losses",
                                      x_title="updates (D + G)", elem_id="toy-gan-losses")
            g_d_plot = gr.LinePlot(x="step", y="value", color="series", height=230, y_lim=[0, 1],
                                   title="the discriminator's verdicts", x_title="updates (D + G)",
                                   elem_id="toy-gan-verdicts")
        with gr.Accordion("Hyper-parameters (take effect at once, also while playing)", open=True):
            with gr.Row():
                g_lr_d = gr.Dropdown(LRS, value=1e-3, label="learning rate D")
                g_lr_g = gr.Dropdown(LRS, value=1e-3, label="learning rate G")
                g_opt = gr.Radio(["Adam", "SGD"], value="Adam", label="optimizer")
                g_k = gr.Slider(1, 5, 1, step=1, label="k: D steps per G step")
            with gr.Row():
                g_z = gr.Dropdown([1, 2, 4, 8], value=2, label="latent size (resets)")
                g_n = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
                g_seed = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
                g_speed = gr.Slider(1, 50, 5, step=1, label="Play: iterations per frame")
        gr.Markdown(GAN_HINT)

    with gr.Tab("DDPM", id="toy-ddpm"):
        with gr.Row():
            with gr.Column(scale=0, min_width=270):
                d_data = gr.Dropdown(DATA, value="spiral", label="data", elem_id="toy-ddpm-data")
                d_play, d_pause = _controls("toy-ddpm")
                with gr.Row():
                    d_step_b = gr.Button("Step", min_width=80, elem_id="toy-ddpm-step", size="md")
                    d_reset = gr.Button("Reset", min_width=80, elem_id="toy-ddpm-reset", size="md")
                d_n_steps = gr.Radio([1, 10, 100], value=10, label="updates per Step")
                d_sample = gr.Button("Sample: Algorithm 2", elem_id="toy-ddpm-sample", size="md")
                d_t = gr.Slider(0, 100, 0, step=1, label="show t", elem_id="toy-ddpm-t")
                d_count = gr.Number(0, label="updates", elem_id="toy-ddpm-updates", **ro)
            with gr.Column(scale=0, min_width=VIEW + 10):
                d_view = gr.HTML(elem_id="toy-ddpm-view", min_height=VIEW)
            with gr.Column(scale=1, min_width=300):
                d_alg = gr.HTML(elem_id="toy-ddpm-algorithm")
                d_num = gr.HTML(elem_id="toy-ddpm-numbers")
        d_loss_plot = gr.LinePlot(x="step", y="value", color="series", height=230, title="L_simple (batch means)",
                                  x_title="updates", elem_id="toy-ddpm-loss")
        with gr.Accordion("Hyper-parameters", open=True):
            with gr.Row():
                d_sched = gr.Radio(["linear", "cosine"], value="linear", label="schedule (resets)")
                d_T = gr.Dropdown([50, 100, 200], value=100, label="T (resets)")
                d_lr = gr.Dropdown(LRS, value=3e-3, label="learning rate")
                d_n = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
                d_seed = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
                d_speed = gr.Slider(1, 100, 10, step=1, label="Play: updates per frame")

    with gr.Tab("VAE", id="toy-vae"):
        with gr.Row():
            with gr.Column(scale=0, min_width=240):
                v_data = gr.Dropdown(DATA, value="moons", label="data", elem_id="toy-vae-data")
                v_beta = gr.Slider(0, 5, 1, step=0.05, label="β: weight of the KL term", elem_id="toy-vae-beta")
                v_play, v_pause = _controls("toy-vae")
                with gr.Row():
                    v_step_b = gr.Button("Step", min_width=80, elem_id="toy-vae-step", size="md")
                    v_reset = gr.Button("Reset", min_width=80, elem_id="toy-vae-reset", size="md")
                v_n_steps = gr.Radio([1, 10, 100], value=10, label="updates per Step")
                v_count = gr.Number(0, label="updates", elem_id="toy-vae-updates", **ro)
            with gr.Column(scale=0, min_width=VAE_DATA + VAE_LATENT + 20):
                v_view = gr.HTML(elem_id="toy-vae-view", min_height=VAE_DATA)
            with gr.Column(scale=1, min_width=200):
                v_num = gr.HTML(elem_id="toy-vae-numbers")
        with gr.Row():
            v_eq = gr.Markdown(_vae_equations(2, 0.1))
            v_plot = gr.LinePlot(x="step", y="value", color="series", height=260,
                                 title="ELBO and its two terms (nats)", x_title="updates", elem_id="toy-vae-curves")
        with gr.Accordion("Hyper-parameters", open=True):
            with gr.Row():
                v_latent = gr.Radio([1, 2], value=2, label="latent size (resets)")
                v_s = gr.Dropdown([0.05, 0.1, 0.2, 0.5], value=0.1, label="decoder s")
                v_lr = gr.Dropdown(LRS, value=3e-3, label="learning rate")
                v_n = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
                v_seed = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
                v_speed = gr.Slider(1, 100, 10, step=1, label="Play: updates per frame")

    with gr.Tab("Your own data", id="toy-draw"):
        with gr.Row():
            with gr.Column(scale=0, min_width=VIEW + 10):
                canvas = gr.Image(toy.data_view([], size=VIEW), show_label=False, interactive=False,
                                  format="png", height=VIEW, elem_id="toy-draw-canvas", buttons=[])
            with gr.Column():
                draw_md = gr.Markdown("**Click on the canvas** to place points; each becomes a small Gaussian blob "
                                      "of training data.")
                spread = gr.Slider(0.03, 0.5, 0.15, step=0.01, label="spread of each point (std)")
                with gr.Row():
                    undo = gr.Button("Undo")
                    clear = gr.Button("Clear")
                start = gr.Dropdown([(toy.LABELS[k], k) for k in toy.DATASETS if k != "drawn"], value=None,
                                    label="...or start from 24 points of")

    gr.Markdown(INTRO)
    with gr.Accordion("Session state (JSON; the API's toy_state)", open=False):
        st_btn = gr.Button("Refresh")
        st_json = gr.JSON()

    # ---- wiring ----
    g_hp = [g_data, g_n, g_seed, g_z, g_lr_d, g_lr_g, g_opt, g_k, g_loss, g_speed]
    g_out = [g_view, g_alg, g_num, g_count, g_loss_plot, g_d_plot, box]
    g_in = [box, *g_hp]
    g_reset.click(gan_reset, g_in, g_out, api_name="toy_gan_reset", **STEP)
    g_d.click(gan_d_step, g_in, g_out, api_name="toy_gan_d_step", **STEP)
    g_g.click(gan_g_step, g_in, g_out, api_name="toy_gan_g_step", **STEP)
    g_it.click(gan_iteration, g_in, g_out, api_name="toy_gan_step", **STEP)
    g_play_ev = g_play.click(gan_play, g_in, g_out, api_name="toy_gan_play", **PLAY)
    g_pause.click(None, cancels=[g_play_ev], api_name=False)
    for c in (g_data, g_n, g_seed, g_z):
        c.change(gan_reset, g_in, g_out, api_name=False, **LIVE)
    for c in (g_lr_d, g_lr_g, g_opt, g_k, g_loss, g_speed):
        c.change(gan_configure, g_in, g_out, api_name=False, **LIVE)

    d_hp = [d_data, d_n, d_seed, d_sched, d_T, d_lr, d_speed]
    d_out = [d_view, d_alg, d_num, d_count, d_loss_plot, box]
    d_in = [box, *d_hp]
    d_reset.click(ddpm_reset, d_in, d_out, api_name="toy_ddpm_reset", **STEP)
    d_step_b.click(ddpm_step, [box, d_n_steps, *d_hp], d_out, api_name="toy_ddpm_step", **STEP)
    d_play_ev = d_play.click(ddpm_play, d_in, d_out, api_name="toy_ddpm_play", **PLAY)
    d_sample_ev = d_sample.click(ddpm_sample, d_in, [*d_out, d_t], api_name="toy_ddpm_sample", **PLAY)
    d_pause.click(None, cancels=[d_play_ev, d_sample_ev], api_name=False)
    d_t.input(ddpm_show_t, [box, d_t, *d_hp], d_out, api_name="toy_ddpm_t", **LIVE)
    for c in (d_data, d_n, d_seed, d_sched):
        c.change(ddpm_reset, d_in, d_out, api_name=False, **LIVE)
    d_T.change(lambda T: gr.Slider(maximum=int(T), value=0), d_T, d_t, api_name=False).then(
        ddpm_reset, d_in, d_out, api_name=False, **STEP)
    for c in (d_lr, d_speed):
        c.change(ddpm_configure, d_in, d_out, api_name=False, **LIVE)

    v_hp = [v_data, v_n, v_seed, v_latent, v_lr, v_beta, v_s, v_speed]
    v_out = [v_view, v_num, v_count, v_plot, v_eq, box]
    v_in = [box, *v_hp]
    v_reset.click(vae_reset, v_in, v_out, api_name="toy_vae_reset", **STEP)
    v_step_b.click(vae_step, [box, v_n_steps, *v_hp], v_out, api_name="toy_vae_step", **STEP)
    v_play_ev = v_play.click(vae_play, v_in, v_out, api_name="toy_vae_play", **PLAY)
    v_pause.click(None, cancels=[v_play_ev], api_name=False)
    for c in (v_data, v_n, v_seed, v_latent):
        c.change(vae_reset, v_in, v_out, api_name=False, **LIVE)
    v_beta.release(vae_configure, v_in, v_out, api_name=False, **LIVE)
    for c in (v_lr, v_s, v_speed):
        c.change(vae_configure, v_in, v_out, api_name=False, **LIVE)

    canvas.select(draw_click, [box, spread], [canvas, draw_md, box], api_name=False, **STEP)
    undo.click(lambda b, s: draw_edit(b, s, "undo"), [box, spread], [canvas, draw_md, box], api_name=False)
    clear.click(lambda b, s: draw_edit(b, s, "clear"), [box, spread], [canvas, draw_md, box], api_name="toy_draw_clear")
    spread.release(lambda b, s: draw_edit(b, s, ""), [box, spread], [canvas, draw_md, box], api_name=False)
    start.input(lambda b, s, w: draw_edit(b, s, w), [box, spread, start], [canvas, draw_md, box], api_name=False)
    st_btn.click(state, box, st_json, api_name="toy_state")

    # First visit: one model of each family, drawn at step 0.
    demo.load(gan_reset, g_in, g_out, api_name=False, **STEP).then(
        ddpm_reset, d_in, d_out, api_name=False, **STEP).then(vae_reset, v_in, v_out, api_name=False, **STEP)
