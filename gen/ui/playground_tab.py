"""The Training playground tab: a GAN, a DDPM and a VAE learning 2-D data live, with the lecture's algorithms.

One `Family` spec per model family (its settings dataclass, its frame, its layout and step buttons) drives shared
handlers. Each visitor's models live in a `Playground` in the playground's own process (see "the playground's
process" below; gr.State holds a token). Play submits a job to one fair pool
(gen.work.FairPool, one worker per core): each slice trains the visitor's own model a few steps and publishes a
frame when one is due; the Play handler is an async generator that sends, at most every MESSAGE_EVERY s, every frame
published since its last message (a "film"), so a class of 40 playing at once shares the CPU fairly, a waiting
Play holds no thread and Gradio's cost per message is paid for several frames. Frames are numbers (JSON), drawn on
<canvas> in the browser by assets/playground.js, which queues a film's frames and paints them one by one. The math
is gen/toy's, which reuses the image models' functions.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import itertools
import json
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import gradio as gr
import numpy as np

from gen import toy
from gen.cache import shared
from gen.remote import Remote, RemoteError
from gen.toy import frames
from gen.ui import common
from gen.work import Job

FPS = 15  # at most this many frames per second while playing (the browser paints them at this rate)
MESSAGE_EVERY = 0.45  # s at least between a Play's messages (after the first, sent at once): each carries the
# frames made since the last one. Gradio's cost per message (postprocessing, diffing, SSE: 15-20 ms) is then shared
# by several frames, which a class of 40 on 2 cores needs
MIN_FPS = 5  # under load, a frame at least this often (with fewer updates in it) if the CPU share allows
SLICE = 0.006  # s of training per pool slice: short slices keep 40 visitors' frames coming
TEXT_EVERY = 0.25  # s between updates of the numbers while playing
PLOT_EVERY = 0.6  # s between loss-plot updates while playing
CHAIN_EVERY = 0.25  # s at least between re-runs of the DDPM's reverse chain while playing ...
CHAIN_SHARE = 0.3  # ... and at most this share of the Play's CPU spent on it (Algorithm 2 costs T network calls)
VIEW = 420  # px a view is shown at (the main view fits a 1280x720 screen without scrolling)
VAE_DATA, VAE_LATENT = 400, 280  # the VAE shows data and latent space side by side
STREAMS = common.STREAMS
POOL = common.POOL  # every visitor's Play (and DDPM sampling) runs in the app's one fair pool: a worker per core
STEP = dict(concurrency_id="toy_step", concurrency_limit=4, show_progress="hidden", trigger_mode="multiple")
LIVE = {**STEP, "trigger_mode": "always_last"}  # settings and sliders: only the latest value matters
# no slots: the pool bounds the CPU, not the queue. No postprocessing: the outputs are strings and numbers as sent,
# and Gradio's per-output postprocessing (a thread hop each) is most of a message's cost on its event loop
PLAY = dict(concurrency_limit=None, show_progress="hidden", postprocess=False)
DATA = [(toy.LABELS[k], k) for k in toy.DATASETS]
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
CAP_NOTE = f"Stopped: {toy.CAP:,} updates is the cap per model and session. Press Reset to train again."

# Every family's frame has these outputs, in this order (then the session state): the API's outputs too.
OUTPUTS = ("view", "algorithm", "numbers", "count", "plots")
TEXT = ("algorithm", "numbers", "count")  # sent at most every TEXT_EVERY s while playing, and only when changed
ALL = frozenset(OUTPUTS)

# Pause also tells the family's canvases to drop the frames they have queued (playground.js)
PAUSE_JS = "() => { window.dispatchEvent(new CustomEvent('pg-stop', {detail: 'toy-%s-'})); }"
ASSETS = Path(__file__).parent / "assets"
PG_HTML = (ASSETS / "playground.html").read_text()
PG_CSS = (ASSETS / "playground.css").read_text()
PG_JS = (ASSETS / "playground.js").read_text()  # draws the frames (JSON) that the handlers below send


class Playground:
    """One visitor's three models and drawing. Every change to a model takes the lock, so Play and the step
    buttons never update a model at the same time."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.models: dict[str, toy.Trainer] = {}
        self.keys: dict[str, tuple] = {}  # the settings each model was built from
        self.points: list[tuple[float, float]] = []  # the drawing, in data coordinates
        self.spread = 0.15
        self.ddpm_t = 0  # the t the DDPM view shows
        self.ddpm_seed = 0  # x_T of the shown reverse chain
        self.ddpm_mode = "train"  # "train" or "sample": which algorithm the DDPM panel highlights
        self.chain_time = 0.0  # when the shown reverse chain was last computed while playing
        self.chain_cpu = self.play_cpu = 0.0  # CPU s of a Play spent on reverse chains, and in all

    gan = property(lambda self: self.models.get("gan"))
    ddpm = property(lambda self: self.models.get("ddpm"))
    vae = property(lambda self: self.models.get("vae"))

    def data(self, name: str, n: int, seed: int) -> toy.ToyData:
        return toy.make_data(name, int(n), int(seed), self.points, self.spread)

    def trainer(self, family: str, st: toy.Settings, reset: bool = False) -> toy.Trainer:
        """The family's model, rebuilt when settings of st.RESETS (or the drawing it learns) changed, or on Reset;
        the other settings are applied to it."""
        key = st.key() + ((tuple(self.points), self.spread) if st.data == "drawn" else ())
        if reset or family not in self.models or self.keys.get(family) != key:
            self.models[family] = st.build(self.data(st.data, st.n, st.seed))
            self.keys[family] = key
        tr = self.models[family]
        st.apply(tr)
        return tr

    def summary(self) -> dict:
        with self.lock:
            return {**{f: (self.models[f].summary() if f in self.models else None) for f in FAMILIES},
                    "drawn_points": len(self.points), "cap": toy.CAP}


def _box(box: Playground | None) -> Playground:
    return box if isinstance(box, Playground) else Playground()


def _user_error(e: ValueError) -> gr.Error:
    """A condition the visitor caused (bad settings, the cap, no drawing): a message, no traceback in the log."""
    return gr.Error(str(e), print_exception=False)


# ---- HTML pieces of the text outputs -------------------------------------------------------------

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


def _f(v: float, digits: int = 3) -> str:
    return "—" if v != v else f"{v:.{digits}f}"


def _numbers(lines: list[str], note: str = "") -> str:
    body = "<br>".join(lines) + (f"<div style='margin-top:6px;color:#b00'><b>{note}</b></div>" if note else "")
    return f"<div style='font-size:.95rem;line-height:1.5;margin-top:8px'>{body}</div>"


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
    fakes = tr.fakes()
    out = float((fakes.abs() > toy.R).any(1).float().mean())
    if out > 0.01:
        lines.append(f"G(z) outside the view (drawn on its border): <b>{100 * out:.0f}%</b>")
    if tr.data.name == "ring":
        c = toy.ring_coverage(fakes)
        lines.append(f"modes covered <b>{c.modes}/8</b> · samples on a mode (within 3σ): <b>{100 * c.good:.0f}%</b>")
    return _numbers(lines, note)


def gan_frame(box: Playground, tr: toy.GANTrainer, want: frozenset = ALL, note: str = "",
              playing: bool = False) -> dict:
    out: dict = {"count": tr.updates}
    if "view" in want:
        out["view"] = frames.to_json(frames.gan(tr, VIEW))
    if "algorithm" in want:
        active = {2, 3, 4} if tr.last == "d" else {6, 7} if tr.last == "g" else set()
        out["algorithm"] = algorithm("Algorithm 1 (Goodfellow et al. 2014)", _gan_lines(tr), active)
    if "numbers" in want:
        out["numbers"] = _gan_numbers(tr, note)
    if "plots" in want:
        out["plots"] = frames.to_json(frames.charts(
            frames.chart("losses", "updates (D + G)", tr.curves({"d_loss": "D loss", "g_loss": "G loss"})),
            frames.chart("the discriminator's verdicts", "updates (D + G)",
                         tr.curves({"d_real": "mean D(x)", "d_fake": "mean D(G(z))"}), ylim=(0, 1))))
    return out


def _gan_room(tr: toy.GANTrainer) -> int:
    """Play's unit for the GAN is an iteration of Algorithm 1 (k D steps + 1 G step): how many fit under the cap."""
    return tr.remaining() // (tr.k + 1)


GAN_HINT = ("**Try:** 8 Gaussians with the defaults (non-saturating, learning rates 0.001) covers all 8 modes in "
            "about 1,000 iterations. **Mode collapse:** set both learning rates to 0.03 and Reset: G puts every sample "
            "on one mode, D paints that mode purple, G hops to another. With *minimax* at 0.03, D wins and G's "
            "gradient log(1 − D(G(z))) vanishes where D is sure: the arrows shrink and G drifts off.")


def _view_and_algorithm(ui: dict, fam: str) -> None:
    """The model's view, then its algorithm box (the line running highlighted) and live numbers."""
    with gr.Column(scale=0, min_width=VIEW + 10):
        ui["view"] = _canvas(f"toy-{fam}-view", VIEW)
    with gr.Column(scale=1, min_width=300):
        ui["algorithm"] = gr.HTML(elem_id=f"toy-{fam}-algorithm")
        ui["numbers"] = gr.HTML(elem_id=f"toy-{fam}-numbers")


def _gan_layout() -> dict:
    ui: dict = {}
    with gr.Row():
        with gr.Column(scale=0, min_width=270):
            ui["data"] = gr.Dropdown(DATA, value="ring", label="data", elem_id="toy-gan-data")
            ui["loss"] = gr.Radio(["non-saturating", "minimax"], value="non-saturating", label="G loss")
            _controls(ui, "toy-gan")
            with gr.Row():
                ui["d_step"] = gr.Button("D step", min_width=80, elem_id="toy-gan-d", size="md")
                ui["g_step"] = gr.Button("G step", min_width=80, elem_id="toy-gan-g", size="md")
            with gr.Row():
                ui["iteration"] = gr.Button("Iteration", min_width=80, elem_id="toy-gan-iter", size="md")
                ui["reset"] = gr.Button("Reset", min_width=80, elem_id="toy-gan-reset", size="md")
            ui["count"] = _count("updates (D + G)", "toy-gan-updates")
        _view_and_algorithm(ui, "gan")
    ui["plots"] = _canvas("toy-gan-losses", 230)
    with gr.Accordion("Hyper-parameters (take effect at once, also while playing)", open=True):
        with gr.Row():
            ui["lr_d"] = gr.Dropdown(LRS, value=1e-3, label="learning rate D")
            ui["lr_g"] = gr.Dropdown(LRS, value=1e-3, label="learning rate G")
            ui["optimizer"] = gr.Radio(["Adam", "SGD"], value="Adam", label="optimizer")
            ui["k"] = gr.Slider(1, 5, 1, step=1, label="k: D steps per G step")
        with gr.Row():
            ui["z_dim"] = gr.Dropdown([1, 2, 4, 8], value=2, label="latent size (resets)")
            ui["n"] = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
            ui["seed"] = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
            ui["per_frame"] = gr.Slider(1, 50, 5, step=1, label="Play: iterations per frame")
    gr.Markdown(GAN_HINT)
    return ui


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
    dist = tr.chamfer_to_data(chain)
    lines = [f"updates <b>{tr.updates:,}</b> / {toy.CAP:,} · L<sub>simple</sub> = <b>{_f(tr.loss)}</b> (last batch; "
             "1 = knows nothing)",
             f"t = <b>{t}</b> ({tr.schedule}, T = {tr.T}): β<sub>t</sub> = {float(tr.sch.beta[t]):.4f}, "
             f"√ᾱ<sub>t</sub> = <b>{ab ** 0.5:.3f}</b>, √(1 − ᾱ<sub>t</sub>) = <b>{(1 - ab) ** 0.5:.3f}</b>",
             f"samples x<sub>0</sub> vs data: mean nearest-neighbour distance <b>{dist:.3f}</b>"]
    return _numbers(lines, note)


def ddpm_frame(box: Playground, tr: toy.DDPMTrainer, want: frozenset = ALL, note: str = "",
               playing: bool = False) -> dict:
    t = box.ddpm_t = int(min(max(box.ddpm_t, 0), tr.T))
    # While playing, Algorithm 2 (T network calls) reruns at most every CHAIN_EVERY s and within CHAIN_SHARE of the
    # Play's CPU: with a class on the machine, a stale chain beats no frames.
    now, cpu = time.perf_counter(), time.thread_time()
    fresh = not playing or (now - box.chain_time >= CHAIN_EVERY and box.chain_cpu <= CHAIN_SHARE * box.play_cpu)
    chain = tr.chain(seed=box.ddpm_seed, stale_ok=not fresh)
    if playing and fresh:
        box.chain_time, box.chain_cpu = now, box.chain_cpu + time.thread_time() - cpu
    out: dict = {"count": tr.updates}
    if "view" in want:
        out["view"] = frames.to_json(frames.ddpm(tr, t, chain, VIEW))
    if "algorithm" in want:
        out["algorithm"] = _ddpm_algorithms(tr, t, box.ddpm_mode)
    if "numbers" in want:
        out["numbers"] = _ddpm_numbers(tr, t, chain, note)
    if "plots" in want:
        out["plots"] = frames.to_json(frames.charts(
            frames.chart("L_simple (batch means)", "updates", tr.curves({"loss": "L_simple"}))))
    return out


def _ddpm_layout() -> dict:
    ui: dict = {}
    with gr.Row():
        with gr.Column(scale=0, min_width=270):
            ui["data"] = gr.Dropdown(DATA, value="spiral", label="data", elem_id="toy-ddpm-data")
            _controls(ui, "toy-ddpm")
            with gr.Row():
                ui["step"] = gr.Button("Step", min_width=80, elem_id="toy-ddpm-step", size="md")
                ui["reset"] = gr.Button("Reset", min_width=80, elem_id="toy-ddpm-reset", size="md")
            ui["n_steps"] = gr.Radio([1, 10, 100], value=10, label="updates per Step")
            ui["sample"] = gr.Button("Sample: Algorithm 2", elem_id="toy-ddpm-sample", size="md")
            ui["t"] = gr.Slider(0, 100, 0, step=1, label="show t", elem_id="toy-ddpm-t")
            ui["count"] = _count("updates", "toy-ddpm-updates")
        _view_and_algorithm(ui, "ddpm")
    ui["plots"] = _canvas("toy-ddpm-loss", 230)
    with gr.Accordion("Hyper-parameters", open=True):
        with gr.Row():
            ui["schedule"] = gr.Radio(["linear", "cosine"], value="linear", label="schedule (resets)")
            ui["T"] = gr.Dropdown([50, 100, 200], value=100, label="T (resets)")
            ui["lr"] = gr.Dropdown(LRS, value=3e-3, label="learning rate")
            ui["n"] = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
            ui["seed"] = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
            ui["per_frame"] = gr.Slider(1, 100, 10, step=1, label="Play: updates per frame")
    return ui


def ddpm_show_t(box, t, *values):
    """Show step t: the data noised to t and the reverse chain at t (no training)."""
    box = _box(box)
    with box.lock, _errors():
        tr = box.trainer("ddpm", DDPM.settings.parse(*values))
        box.ddpm_t = int(t)
        return _outputs(ddpm_frame(box, tr), box)


def _sample_slices(box: Playground, st: toy.Settings, feed: Feed) -> Iterator[float | None]:
    """Algorithm 2 on fresh x_T ~ N(0, I), shown from t = T down to 0 with the noise field at each t (a pool job)."""
    with box.lock:
        tr = box.trainer("ddpm", st)
        box.ddpm_seed += 1
        box.ddpm_mode = "sample"
        tr.chain(seed=box.ddpm_seed)
        ts = sorted(set(range(tr.T, -1, -max(1, tr.T // 50))) | {0}, reverse=True)
    yield None
    for t in ts:
        with box.lock:
            if box.ddpm is not tr:
                return
            box.ddpm_t = t
            feed.put({**ddpm_frame(box, tr, ALL - {"plots"}), "t": t})
        yield 1 / FPS


async def ddpm_sample(box, *values):
    """Algorithm 2 on fresh x_T ~ N(0, I), animated from t = T down to 0 (the API's toy_ddpm_sample)."""
    box = _box(box)
    with _errors():
        st = DDPM.settings.parse(*values)
    feed, play_id, last = Feed(), next(_plays), {}
    job = POOL.submit(_sample_slices(box, st, feed))
    try:
        async for parts in _stream(job, feed, 1 / FPS):
            yield (*_message(_film(parts, play_id), last), gr.skip() if last.get("box") else box, last.get("t"))
            last["box"] = True
    finally:
        POOL.cancel(job)


def _ddpm_wire(ui: dict, box: gr.State, io: dict) -> None:
    ev = ui["sample"].click(remote(ddpm_sample), io["inputs"], [*io["outputs"], ui["t"]], api_name="toy_ddpm_sample",
                            **PLAY)
    io["cancels"].append(ev)
    ui["t"].input(remote(ddpm_show_t), [box, ui["t"], *io["settings"]], io["outputs"], api_name="toy_ddpm_t", **LIVE)


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
    return ("<div style='font-size:.95rem;line-height:1.5'>"
            f"<b>Encoder</b> q(z|x) = N(μ(x), diag σ²(x)), z ∈ ℝ<sup>{latent}</sup>; <b>reparameterisation</b> "
            f"z = μ + σ ⊙ ε, ε ~ N(0, I).<br><b>Gaussian decoder</b> log p(x|z) = −‖x − g(z)‖² / (2s²) − log(2πs²), "
            f"s = {s:g} (the 28×28 VAE uses the Bernoulli one, −BCE).<br><b>KL</b> per latent dimension: "
            "−KL = ½ (1 + log σ² − σ² − μ²).<br><b>β</b>: β &gt; 1 pulls the codes onto the prior (smoother, blurrier "
            "samples, more overlap in latent space); β &lt; 1 favours reconstruction (codes spread out, holes between "
            "them, worse samples from p(z)); β = 0 is a plain autoencoder with noise.</div>")


def vae_frame(box: Playground, tr: toy.VAETrainer, want: frozenset = ALL, note: str = "",
              playing: bool = False) -> dict:
    out: dict = {"count": tr.updates}
    if "view" in want:
        out["view"] = frames.to_json(frames.vae(tr, VAE_DATA, VAE_LATENT))
    if "algorithm" in want:
        out["algorithm"] = _vae_equations(tr.latent, tr.s)
    if "numbers" in want:
        out["numbers"] = _vae_numbers(tr, note)
    if "plots" in want:
        series = tr.curves({"recon": "E[log p(x|z)]", "kl": "KL", "elbo": "ELBO"})
        out["plots"] = frames.to_json(frames.charts(  # y fitted to all but the first steps (far off)
            frames.chart("ELBO and its two terms (nats)", "updates", series, ylim=frames.fitted_ylim(series))))
    return out


def _vae_layout() -> dict:
    ui: dict = {}
    with gr.Row():
        with gr.Column(scale=0, min_width=240):
            ui["data"] = gr.Dropdown(DATA, value="moons", label="data", elem_id="toy-vae-data")
            ui["beta"] = gr.Slider(0, 5, 1, step=0.05, label="β: weight of the KL term", elem_id="toy-vae-beta")
            _controls(ui, "toy-vae")
            with gr.Row():
                ui["step"] = gr.Button("Step", min_width=80, elem_id="toy-vae-step", size="md")
                ui["reset"] = gr.Button("Reset", min_width=80, elem_id="toy-vae-reset", size="md")
            ui["n_steps"] = gr.Radio([1, 10, 100], value=10, label="updates per Step")
            ui["count"] = _count("updates", "toy-vae-updates")
        with gr.Column(scale=0, min_width=VAE_DATA + VAE_LATENT + 20):
            ui["view"] = _canvas("toy-vae-view", VAE_DATA)
        with gr.Column(scale=1, min_width=200):
            ui["numbers"] = gr.HTML(elem_id="toy-vae-numbers")
    with gr.Row():
        ui["algorithm"] = gr.HTML(_vae_equations(2, 0.1), elem_id="toy-vae-equations")
        ui["plots"] = _canvas("toy-vae-curves", 260)
    with gr.Accordion("Hyper-parameters", open=True):
        with gr.Row():
            ui["latent"] = gr.Radio([1, 2], value=2, label="latent size (resets)")
            ui["s"] = gr.Dropdown([0.05, 0.1, 0.2, 0.5], value=0.1, label="decoder s")
            ui["lr"] = gr.Dropdown(LRS, value=3e-3, label="learning rate")
            ui["n"] = gr.Dropdown([500, 1000, 2000, 5000], value=2000, label="N data points (resets)")
            ui["seed"] = gr.Number(0, label="seed (resets)", precision=0, minimum=0)
            ui["per_frame"] = gr.Slider(1, 100, 10, step=1, label="Play: updates per frame")
    return ui


# ---- the specs -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Action:
    """A step button: what it does to the model, and whether it takes the 'updates per Step' choice (n_steps)."""

    button: str  # the button's key in the layout
    api_name: str
    run: Callable[[toy.Trainer, int], object]
    takes_n: bool = False
    mode: str = ""  # the DDPM panel's highlighted algorithm after it ("train")


@dataclasses.dataclass(frozen=True)
class Family:
    """Everything the shared handlers need to know about one model family."""

    name: str  # "gan": api names toy_gan_play, toy_gan_reset, ...
    tab: str
    settings: type[toy.Settings]  # its hyper-parameters by name, in the order of the tab's inputs
    frame: Callable[..., dict]  # (box, trainer, want, note, playing) -> {output name: value}
    layout: Callable[[], dict]  # builds the tab: {settings field / output / button name: component}
    actions: tuple[Action, ...]
    advance: Callable[[toy.Trainer, int], object] = lambda tr, n: tr.step(n)  # n Play units (GAN: iterations)
    room: Callable[[toy.Trainer], int] = lambda tr: tr.remaining()  # Play units left before the cap
    wire: Callable[[dict, gr.State, dict], None] | None = None  # wiring only this family has


GAN = Family("gan", "GAN", toy.GANSettings, gan_frame, _gan_layout,
             (Action("d_step", "toy_gan_d_step", lambda tr, n: tr.d_step()),  # lines 3-5 of Algorithm 1
              Action("g_step", "toy_gan_g_step", lambda tr, n: tr.g_step()),  # lines 7-8
              Action("iteration", "toy_gan_step", lambda tr, n: tr.step(1))),  # the rest of k D steps, 1 G step
             room=_gan_room)
DDPM = Family("ddpm", "DDPM", toy.DDPMSettings, ddpm_frame, _ddpm_layout,
              (Action("step", "toy_ddpm_step", lambda tr, n: tr.step(n), takes_n=True, mode="train"),),
              wire=_ddpm_wire)
VAE = Family("vae", "VAE", toy.VAESettings, vae_frame, _vae_layout,
             (Action("step", "toy_vae_step", lambda tr, n: tr.step(n), takes_n=True),))
FAMILIES = {f.name: f for f in (GAN, DDPM, VAE)}


# ---- shared handlers ----------------------------------------------------------------------------

class _errors:
    """ValueError (bad settings, the cap, no drawing yet) -> gr.Error with the message and no traceback."""

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if isinstance(e, ValueError):
            raise _user_error(e) from e
        return False


def _outputs(parts: dict, box: Playground) -> tuple:
    """A frame's parts in OUTPUTS order (a part not in it: unchanged), then the state."""
    return (*(parts.get(k, gr.skip()) for k in OUTPUTS), box)


def reset(fam: Family) -> Callable:
    def handler(box, *values):
        """A fresh model on the chosen data, drawn at step 0."""
        box = _box(box)
        with box.lock, _errors():
            tr = box.trainer(fam.name, fam.settings.parse(*values), reset=True)
            if fam is DDPM:
                box.ddpm_mode = "train"
            return _outputs(fam.frame(box, tr), box)
    handler.__name__ = f"{fam.name}_reset"
    return handler


def configure(fam: Family) -> Callable:
    def handler(box, *values):
        """A hyper-parameter changed: applied at once, also while playing (the frame redraws)."""
        if not isinstance(box, Playground) or fam.name not in box.models:
            return tuple(gr.skip() for _ in (*OUTPUTS, box))
        with box.lock, _errors():
            return _outputs(fam.frame(box, box.trainer(fam.name, fam.settings.parse(*values))), box)
    handler.__name__ = f"{fam.name}_configure"
    return handler


def act(fam: Family, action: Action) -> Callable:
    def handler(box, *values):
        box = _box(box)
        n, values = (int(values[0]), values[1:]) if action.takes_n else (1, values)
        with box.lock, _errors():
            tr = box.trainer(fam.name, fam.settings.parse(*values))
            action.run(tr, n)
            if action.mode:
                box.ddpm_mode = action.mode
            return _outputs(fam.frame(box, tr), box)
    handler.__name__ = f"{fam.name}_{action.button}"
    return handler


class Feed:
    """What a pool job published for its handler until the handler takes it: every frame's view, oldest first (the
    last 2 * FPS * MESSAGE_EVERY: older ones are dropped when the page cannot keep up), and the other parts merged
    (the latest wins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict = {}
        self._views: collections.deque = collections.deque(maxlen=max(2, round(2 * FPS * MESSAGE_EVERY)))
        self._last = None  # when the last view taken was published

    def put(self, parts: dict) -> None:
        with self._lock:
            if "view" in parts:
                parts = dict(parts)
                self._views.append((time.monotonic(), parts.pop("view")))
            self._parts.update(parts)

    def take(self) -> dict:
        """The parts published since the last take; the views as "views" (a list) with "fps", the rate they were
        made at (at most FPS): the page paints them at that rate, so a slower Play still moves evenly."""
        with self._lock:
            parts, self._parts = self._parts, {}
            if self._views:
                times, views = zip(*self._views)
                self._views.clear()
                span = times[-1] - (self._last if self._last is not None else times[0])
                parts["views"], parts["fps"] = list(views), min(FPS, max(1.0, len(views) / span if span else FPS))
                self._last = times[-1]
        return parts

    def __len__(self) -> int:
        return len(self._views)

    @property
    def pending(self) -> bool:
        return bool(self._parts or self._views)


_plays = itertools.count(1)  # each Play's films carry its number: the page ignores films of a Play it stopped


def _film(parts: dict, play: int) -> dict:
    """The views a Feed gave, as one view output: {"frames": [view, ...], "fps": f, "play": n} (JSON), which
    playground.js queues and paints f a second; a single view (a step, a setting) is painted at once instead."""
    views = parts.pop("views", None)
    fps = parts.pop("fps", FPS)
    if views:
        parts["view"] = f'{{"frames":[{",".join(views)}],"fps":{round(fps, 2)},"play":{play}}}'
    return parts


def _first_frame(fam: Family, box: Playground, st: toy.Settings, feed: Feed) -> dict | None:
    """Start a Play: the visitor's model for these settings and its first frame (None when it is at its cap)."""
    with box.lock:
        tr = box.trainer(fam.name, st)
        if fam is DDPM:
            box.ddpm_mode = "train"
        box.chain_cpu = box.play_cpu = 0.0
        capped = fam.room(tr) <= 0
        first = fam.frame(box, tr, ALL, CAP_NOTE if capped else "", True)
        feed.put(first)
    return None if capped else first


def _only_changed(parts: dict, want: set, sent: dict) -> dict:
    """A frame's text parts only when asked for and changed since last sent (`sent` is updated)."""
    for k in TEXT:
        if k in parts and (k not in want or sent.get(k) == parts[k]):
            del parts[k]
        elif k in parts:
            sent[k] = parts[k]
    return parts


def _play_slices(fam: Family, box: Playground, st: toy.Settings, feed: Feed) -> Iterator[float | None]:
    """A Play as a pool job: each slice trains the visitor's model about SLICE s and publishes a frame when due.

    A frame is due after the 'per frame' updates (at most FPS a second; the job then waits, holding no worker), or,
    when its CPU share is small, every 1 / MIN_FPS s with the updates done so far. The view goes out in every
    frame; the text at most every TEXT_EVERY s and only when changed, the plots every PLOT_EVERY s."""
    first = _first_frame(fam, box, st, feed)
    if first is None:
        return
    sent = {k: first[k] for k in TEXT}  # text parts as last sent (to send only changes)
    now = time.monotonic()
    last_frame, next_text, next_plot = now, now + TEXT_EVERY, now + PLOT_EVERY
    since, unit_cpu = 0, 0.002  # Play units since the last frame; CPU s per unit (measured as we go)
    yield None
    while True:
        if not box.lock.acquire(blocking=False):  # a step button is updating the model: come back soon
            yield 0.005
            continue
        try:
            cpu = time.thread_time()
            tr = box.models.get(fam.name)  # settings that rebuild the model while playing: play the new one
            if tr is None:
                return
            per_frame, room = max(1, tr.per_frame), fam.room(tr)
            if room <= 0:
                feed.put(fam.frame(box, tr, ALL, CAP_NOTE, True))
                return
            if since < per_frame:  # behind (a small CPU share): train less, so that frames keep coming
                budget = SLICE if time.monotonic() < last_frame + 0.5 / MIN_FPS else SLICE / 3
                n = int(max(1, min(budget / unit_cpu, per_frame - since, room)))
                fam.advance(tr, n)
                unit_cpu = 0.7 * unit_cpu + 0.3 * (time.thread_time() - cpu) / n
                since += n
            now = time.monotonic()
            due = since >= per_frame or now >= last_frame + 1 / MIN_FPS
            if due and now >= last_frame + 1 / FPS:  # the feed keeps every frame until the next message
                want = {"view", "count"}
                if now >= next_text:
                    want |= set(TEXT)
                    next_text = now + TEXT_EVERY
                if now >= next_plot:
                    want.add("plots")
                    next_plot = now + PLOT_EVERY
                feed.put(_only_changed(fam.frame(box, tr, frozenset(want), "", True), want, sent))
                last_frame, since = now, 0
            box.play_cpu += time.thread_time() - cpu
        finally:
            box.lock.release()
        if since >= per_frame:  # nothing to do before the next frame time
            yield max(0.002, last_frame + 1 / FPS - time.monotonic())
        else:
            yield None


async def _stream(job: Job, feed: Feed, base: float | None = None) -> AsyncIterator[dict]:
    """What a pool job publishes (Feed.take), at most every `base` s (MESSAGE_EVERY; longer with many streams open:
    common.STREAMS), the first as soon as there is one, until the job ends. Polling (no thread held while waiting);
    the caller cancels the job in its finally (Pause cancels the event, a closed page too)."""
    last = None  # when the last message went out
    with STREAMS.opened():
        while True:
            done, every = job.done, STREAMS.every(MESSAGE_EVERY if base is None else base)
            parts = feed.take() if done or last is None or time.monotonic() >= last + every else {}
            if parts:
                yield parts
                last = time.monotonic()
            elif done:
                if isinstance(job.error, ValueError):
                    raise _user_error(job.error)
                if job.error is not None:
                    raise job.error
                return
            await asyncio.sleep(0.01 if last is None else max(0.01, last + every - time.monotonic()))


def _message(parts: dict, last: dict) -> tuple:
    """A Play message's outputs (OUTPUTS order): the parts that came, the others as last sent (`last`, updated).
    Not gr.skip(): Gradio builds a new component for each skipped output of each message (milliseconds of its event
    loop, measured), while a value sent again costs a string comparison and goes out as an empty diff."""
    last.update(parts)
    return tuple(last.get(k, gr.skip()) for k in OUTPUTS)


def play(fam: Family) -> Callable:
    async def handler(box, *values):
        """Train in the fair pool and stream frames until Pause, the page closes or the model reaches the cap."""
        box = _box(box)
        with _errors():
            st = fam.settings.parse(*values)
        feed, play_id, last = Feed(), next(_plays), {}
        job = POOL.submit(_play_slices(fam, box, st, feed))
        try:
            async for parts in _stream(job, feed):
                yield (*_message(_film(parts, play_id), last), gr.skip() if last.get("box") else box)
                last["box"] = True  # the session's state goes out once
        finally:
            POOL.cancel(job)
    handler.__name__ = f"{fam.name}_play"
    return handler


# handlers by their old names (tests, other callers)
gan_reset, ddpm_reset, vae_reset = reset(GAN), reset(DDPM), reset(VAE)
gan_configure, ddpm_configure, vae_configure = configure(GAN), configure(DDPM), configure(VAE)
gan_d_step, gan_g_step, gan_iteration = (act(GAN, a) for a in GAN.actions)
ddpm_step, vae_step = act(DDPM, DDPM.actions[0]), act(VAE, VAE.actions[0])
gan_play, ddpm_play, vae_play = play(GAN), play(DDPM), play(VAE)


# ---- your own data -----------------------------------------------------------------------------

def _draw_frame(box: Playground):
    data = box.data("drawn", 1500, 0) if box.points else None
    n = len(box.points)
    md = (f"{n} point{'s' if n != 1 else ''} drawn; the data set is each point jittered by N(0, {box.spread:g}²). "
          "Pick **your drawing** as the data in the GAN, DDPM or VAE tab.")
    return toy.drawing.data_view(box.points, data, VIEW), md, box


def draw_point(box, spread, x_px: float, y_px: float):
    """A click on the drawing canvas at pixel (x_px, y_px): one more point."""
    box = _box(box)
    with box.lock:
        box.spread = float(spread)
        x, y = toy.drawing.from_px(x_px, y_px, VIEW)
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


# every handler by name: what the playground's process runs for the wired ones (remote())
HANDLERS = {h.__name__: h for h in (gan_reset, ddpm_reset, vae_reset, gan_configure, ddpm_configure, vae_configure,
                                    gan_d_step, gan_g_step, gan_iteration, ddpm_step, vae_step, gan_play, ddpm_play,
                                    vae_play, ddpm_show_t, ddpm_sample, draw_point, draw_edit, state)}


# ---- the playground's process -------------------------------------------------------------------
# The handlers above work on a Playground in this process (tests call them so). The app runs them in a child process
# (gen.remote), where every visitor's Playground lives and the fair pool trains: Python-level training of 40 small
# models would otherwise hold the server's interpreter lock, and every Play message and slider would wait for it.
# The wired handlers only forward: a visitor's gr.State holds a Session, the token of their Playground there.

ENGINE = Remote(__name__, threads=4, init="warm_up", name="playground")


class _State:
    """Where a handler's output held the visitor's Playground (the gr.State output): the server puts the Session."""


class Session:
    """A visitor's gr.State: names their Playground in the playground's process; dropped there when Gradio drops
    the session's state (the object is garbage then)."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        weakref.finalize(self, ENGINE.tell, "drop", self.token)

    def __deepcopy__(self, memo: dict) -> Session:
        return self  # one Playground per session: a copy names the same one


_BOXES: dict[str, Playground] = {}  # (in the playground's process) every visitor's models, by Session token


def _served(token: str) -> Playground:
    return _BOXES.get(token) or _BOXES.setdefault(token, Playground())


def _strip(out):
    return tuple(_State() if isinstance(v, Playground) else v for v in out) if isinstance(out, tuple) else out


def serve(token: str, handler: str, *args):
    """(In the playground's process.) A handler's outputs for the visitor `token`."""
    return _strip(HANDLERS[handler](_served(token), *args))


async def serve_stream(token: str, handler: str, *args):
    """(In the playground's process.) A streaming handler's messages for the visitor `token`."""
    async for out in HANDLERS[handler](_served(token), *args):
        yield _strip(out)


def drop(token: str) -> None:
    """(In the playground's process.) The visitor's session is gone: so are their models."""
    _BOXES.pop(token, None)


def engine_status() -> dict:
    """(In the playground's process.) Pool jobs running (Plays, samplings) and visitors' Playgrounds kept."""
    return {"pool_jobs": POOL.active, "sessions": len(_BOXES)}


def warm_up() -> None:
    """(In the playground's process, at its start.)"""
    for _ in range(POOL.workers):
        POOL.submit(_warm_up())


def _session(s) -> Session:
    return s if isinstance(s, Session) else Session()


def _restore(out, sess: Session):
    return tuple(sess if isinstance(v, _State) else v for v in out) if isinstance(out, tuple) else out


class _remote_errors:
    """What the playground's process raised, as the visitor should see it: their own mistakes (gr.Error,
    ValueError) as the message alone; the process's death as a clear message (the next event starts a new one)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if isinstance(e, RemoteError) and e.kind in ("Error", "ValueError"):
            raise gr.Error(str(e), print_exception=False) from None
        if isinstance(e, RemoteError) and e.kind == "ProcessDied":
            raise gr.Error("The playground restarted and your models were lost: press Reset.") from None
        return False


async def _call(sess, handler: str, *args):
    sess = _session(sess)
    with _remote_errors():
        return _restore(await asyncio.wrap_future(ENGINE.call("serve", sess.token, handler, *args)), sess)


def remote(handler: Callable) -> Callable:
    """A handler as wired: the same handler (by name), run in the playground's process on the visitor's models."""
    name = handler.__name__
    if inspect.isasyncgenfunction(handler):
        async def run(sess, *args):
            sess = _session(sess)
            with _remote_errors():
                async for out in ENGINE.stream("serve_stream", sess.token, name, *args):
                    yield _restore(out, sess)
    else:
        async def run(sess, *args):
            return await _call(sess, name, *args)
    run.__name__ = run.__qualname__ = name
    return run


@shared(common.RESULTS)
def _step_zero(family: str, *values) -> tuple:
    """A family's frame at step 0 for these settings, as Reset draws it: the same for every visitor (models start
    from the settings' seed), so computed once, here. A visitor's own model is built in the playground's process at
    their first Step or Play; a first page view waits for nobody (the process may still be starting)."""
    return reset(FAMILIES[family])(Playground(), *values)[:-1]


def first_view(fam: Family) -> Callable:
    def run(*values):
        with _errors():
            return (*_step_zero(fam.name, *values), gr.skip())  # no Session yet: nothing to keep
    run.__name__ = f"{fam.name}_first_view"
    return run


def _drawing(what: str) -> Callable:
    async def run(sess, spread):
        return await _call(sess, "draw_edit", spread, what)
    return run


async def draw_click(sess, spread, evt: gr.SelectData):
    return await _call(sess, "draw_point", spread, *evt.index[:2])


# ---- layout and wiring -------------------------------------------------------------------------

INTRO = ("On 2-D points every model is small enough to train **live** on this server's CPU. Press **▶ Play**, change "
         "settings while it runs, or step through the algorithms one line at a time. Same math as the image tabs: "
         "`gen.gan.d_loss / g_loss`, `gen.diffusion.q_sample / loss_simple / p_sample`, `gen.vae.elbo`.")


def _controls(ui: dict, prefix: str) -> None:
    with gr.Row():
        ui["play"] = gr.Button("▶ Play", variant="primary", elem_id=f"{prefix}-play", min_width=80, size="md")
        ui["pause"] = gr.Button("Pause", variant="stop", elem_id=f"{prefix}-pause", min_width=80, size="md")


def _count(label: str, elem_id: str) -> gr.Number:
    return gr.Number(0, label=label, elem_id=elem_id, interactive=False, precision=0, min_width=80)


def _canvas(elem_id: str, min_height: int) -> gr.HTML:
    """A view or the loss plots: a frame's JSON, drawn by assets/playground.js."""
    return gr.HTML(None, html_template=PG_HTML, css_template=PG_CSS, js_on_load=PG_JS, elem_id=elem_id,
                   min_height=min_height, padding=False)


def _wire(fam: Family, ui: dict, box: gr.State) -> dict:
    """The events every family has, from its spec: reset, step buttons, play/pause, settings changes."""
    settings = [ui[name] for name in fam.settings.names()]
    io = {"settings": settings, "inputs": [box, *settings], "outputs": [*(ui[k] for k in OUTPUTS), box],
          "cancels": []}
    inputs, outputs = io["inputs"], io["outputs"]
    ui["reset"].click(remote(reset(fam)), inputs, outputs, api_name=f"toy_{fam.name}_reset", **STEP)
    for a in fam.actions:
        ins = [box, ui["n_steps"], *settings] if a.takes_n else inputs
        ui[a.button].click(remote(act(fam, a)), ins, outputs, api_name=a.api_name, **STEP)
    io["cancels"].append(ui["play"].click(remote(play(fam)), inputs, outputs, api_name=f"toy_{fam.name}_play", **PLAY))
    if fam.wire:
        fam.wire(ui, box, io)
    ui["pause"].click(None, cancels=io["cancels"], api_name=False, js=PAUSE_JS % fam.name)
    for name, c in zip(fam.settings.names(), settings):
        handler = remote(reset(fam) if name in fam.settings.RESETS else configure(fam))
        event = c.release if isinstance(c, gr.Slider) else c.change
        event(handler, inputs, outputs, api_name=False, **LIVE)
    return io


def _warm_up() -> Iterator[None]:
    """One tiny Play's work on each pool worker at start: the first visitor's Play does not pay for starting the
    threads, their OpenMP and autograd set-up (4 s on a busy 2-core machine, measured)."""
    for fam in FAMILIES.values():
        tr = fam.settings(n=64).build(toy.make_data(fam.settings.data, 64, 0))
        fam.advance(tr, 1)
        fam.frame(Playground(), tr, ALL, "", False)
        yield None


# ?view=gan|ddpm|vae|draw opens that family's tab, in the page alone (no server round trip)
VIEW_FROM_URL = ("() => { const v = new URLSearchParams(location.search).get('view'); "
                 f"return {{__type__: 'update', ...({json.dumps([*FAMILIES, 'draw'])}.includes(v) "
                 "? {selected: 'toy-' + v} : {})}; }")


def build(demo: gr.Blocks) -> None:
    ENGINE.start()  # its imports and warm-up take seconds: now, not at the first visitor's click
    box = gr.State(None)
    ios = {}
    with gr.Tabs() as tabs:
        for fam in FAMILIES.values():
            with gr.Tab(fam.tab, id=f"toy-{fam.name}"):
                ui = fam.layout()
            ios[fam.name] = (ui, _wire(fam, ui, box))

        with gr.Tab("Your own data", id="toy-draw"):
            with gr.Row():
                with gr.Column(scale=0, min_width=VIEW + 10):
                    canvas = gr.Image(toy.drawing.data_view([], size=VIEW), show_label=False, interactive=False,
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
    demo.load(None, None, tabs, js=VIEW_FROM_URL)  # /playground?view=ddpm

    gr.Markdown(INTRO)
    with gr.Accordion("Session state (JSON; the API's toy_state)", open=False):
        st_btn = gr.Button("Refresh")
        st_json = gr.JSON()

    # the DDPM's t slider follows T
    ddpm_ui, ddpm_io = ios["ddpm"]
    ddpm_ui["T"].change(lambda T: gr.Slider(maximum=int(T), value=0), ddpm_ui["T"], ddpm_ui["t"], api_name=False)

    draw_out = [canvas, draw_md, box]
    canvas.select(draw_click, [box, spread], draw_out, api_name=False, **STEP)
    undo.click(_drawing("undo"), [box, spread], draw_out, api_name=False)
    clear.click(_drawing("clear"), [box, spread], draw_out, api_name="toy_draw_clear")
    spread.release(_drawing(""), [box, spread], draw_out, api_name=False)
    start.input(remote(draw_edit), [box, spread, start], draw_out, api_name=False)
    st_btn.click(remote(state), box, st_json, api_name="toy_state")

    # First visit: one model of each family, drawn at step 0.
    ev = None
    for fam in FAMILIES.values():
        _, io = ios[fam.name]
        kw = dict(fn=first_view(fam), inputs=io["settings"], outputs=io["outputs"], api_name=False, **STEP)
        ev = demo.load(**kw) if ev is None else ev.then(**kw)
