"""The DDPM tab: the forward noising process and the reverse denoising chain, step by step."""
from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Generator, Iterator
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import torch

from gen import data, diffusion, hub
from gen.cache import shared
from gen.chain import Chain, Film, Films, Need, Shot, batched_steps, key
from gen.images import data_url, grid, pixel_diversity, preprocess, to_float, to_uint8
from gen.sample import autoguiding, shipped_guidance
from gen.ui import charts, links
from gen.ui.common import (
    DATASET,
    DATASETS,
    FAST,
    HEAVY,
    LAST_TEST,
    NONE,
    POOL,
    RESULTS,
    STREAMS,
    class_choices,
    friendly,
    image,
    missing,
    model,
    readable_upload,
    sampler_fids,
    unconditional,
)

STRIP = (0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1)  # the forward strip shows x_t at these fractions of T
FILM_EVERY = 50  # the filmstrip keeps x_t every this many steps


W_ROW = (0, 1, 3, 8)  # the guidance row: the same x_T at growing w


def _name(ds: str, conditional: bool = False) -> str:
    if ds not in DATASETS:
        raise gr.Error(f"Unknown dataset {ds!r}; choose one of {', '.join(DATASETS)}.")
    return hub.generators("ddpm", DATASETS[ds], conditional)[0]


def _model(ds: str):
    return model(_name(ds))


def _ag(ds: str, sampler: str = "ddim") -> float:
    """The autoguidance weight w the dataset's DDPM ships with on `sampler` ("ddim", or "ddpm": Algorithm 2)."""
    return shipped_guidance(_name(ds), sampler)[0]


def _eps(ds: str, cls: str | None, w: float, n: int) -> tuple[diffusion.EpsModel, diffusion.Schedule]:
    """The noise predictor to sample with: the unconditional U-Net, or the conditional one guided toward class
    `cls` with weight w (classifier-free guidance), for a batch of n images."""
    if unconditional(cls):
        m = _model(ds)
        return m, diffusion.schedule_of(m)
    if not str(cls).isdigit() or not 0 <= int(cls) <= 9:
        raise gr.Error(f"Unknown class {cls!r}: pick one of 0..9 or 'none'.")
    name = _name(ds, conditional=True)
    m = model(name)
    return (diffusion.Guidance(m, torch.full((n,), int(cls)), float(w), m.null_class,
                               t_max=hub.REGISTRY[name].guidance_t_max), diffusion.schedule_of(m))


def _autoguide(ds: str, cls: str | None, m: diffusion.EpsModel, ag: float | None,
               sampler: str = "ddim") -> diffusion.EpsModel:
    """The noise predictor m for `sampler` ("ddim", or "ddpm": Algorithm 2): guided by its weak model with weight ag
    (None: the shipped one) in the sampler's shipped interval (autoguidance), where the dataset's unconditional U-Net
    has a weak model and no class is picked; m itself otherwise."""
    name = _name(ds)
    w, t_max = shipped_guidance(name, sampler)
    ag = w if ag is None else ag
    weak = autoguiding(name, sampler, ag) if unconditional(cls) else None
    return diffusion.AutoGuidance(m, model(weak), float(ag), t_max) if weak else m


def _autoguided(eps: diffusion.EpsModel, chain: str = "DDIM") -> str:
    """A line saying how the chain's samples were autoguided, if they were."""
    if not isinstance(eps, diffusion.AutoGuidance):
        return ""
    n = sum(q.numel() for q in eps.weak.parameters()) / 1e6
    during = "" if eps.t_max is None else f" while t ≤ {eps.t_max}"
    return (f" {chain} autoguided: ε̃ = (1 + {eps.w:g}) ε_θ − {eps.w:g} ε_weak{during}, ε_weak a "
            f"{n:.2f}M-parameter U-Net trained briefly.")


def _x0(ds: str, index: float, upload) -> torch.Tensor:
    """x_0 in [-1, 1], [1,1,28,28]: an uploaded image if given, else a test image."""
    if upload is not None:
        return to_float(preprocess(upload).image[None], signed=True)
    x, _ = data.test_sample(DATASETS[ds])
    return to_float(x[data.test_index(DATASETS[ds], index)][None], signed=True)


def _show(x: torch.Tensor, size: int = 224) -> np.ndarray:
    return image(to_uint8(x, signed=True)[0], size)


def _T(ds: str) -> int:
    """T of the dataset's diffusion model: the forward process runs t = 0 … T as the model was trained."""
    try:
        return _model(ds).T
    except gr.Error:  # the model is missing (the banner says so): the schedules' own T
        return diffusion.make_schedule("linear").T


def _strip_t(T: int) -> list[int]:
    return [round(f * T) for f in STRIP]


@lru_cache(maxsize=4)
def _schedule_curves(T: int) -> dict[str, list[tuple[int, float]]]:
    curves = {}
    for name in ("linear", "cosine"):
        s, ts = diffusion.make_schedule(name, T), range(0, T + 1, max(1, T // 100))
        curves[f"ᾱ_t {name}"] = [(tt, float(s.alpha_bar[tt])) for tt in ts]
        curves[f"20·β_t {name}"] = [(tt, float(s.beta[tt]) * 20) for tt in ts]
    return curves


def _schedule_plot(sch: diffusion.Schedule, t: int) -> str:
    """Both schedules' ᾱ_t and β_t over t = 0 … T, and the current t: a line up to ᾱ_t of the schedule in use."""
    return charts.lines({**_schedule_curves(sch.T), "current t": [(t, 0.0), (t, float(sch.alpha_bar[t]))]},
                        "schedules (current t marked)", "t", y_lim=(0.0, 1.0))


@friendly
def forward(ds: str, index: float, upload, sch_name: str, t: float, seed: float):
    """x_t from the closed form q(x_t | x_0), with every number of the equation."""
    T = _T(ds)
    t = min(max(int(t), 0), T)
    sch = diffusion.make_schedule(sch_name, T)
    x0 = _x0(ds, index, upload)
    eps = diffusion.noise(tuple(x0.shape), int(seed))
    x_t = diffusion.q_sample(x0, t, eps, sch)
    strip = torch.cat([diffusion.q_sample(x0, s, eps, sch) for s in _strip_t(T)])
    ab = float(sch.alpha_bar[t])
    centres, density, normal = diffusion.pixel_histogram(x_t)
    hist = charts.lines({"x_t pixels": list(zip(centres, density)), "N(0, 1)": list(zip(centres, normal))},
                        "pixel histogram of x_t vs N(0, 1)", "pixel value", "density")
    md = (f"**q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)**, so x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε\n\n"
          f"t = **{t}** ({sch_name}): β_t = {float(sch.beta[t]):.5f}, ᾱ_t = {ab:.5f}  \n"
          f"√ᾱ_t = **{ab ** 0.5:.4f}**, √(1 − ᾱ_t) = **{(1 - ab) ** 0.5:.4f}**  \n"
          f"SNR = ᾱ_t / (1 − ᾱ_t) = **{sch.snr(t):.4g}**  \n"
          f"pixels of x_t: mean {x_t.mean():.3f}, std {x_t.std():.3f} (→ 0 and 1 as t → T)")
    return (_show(x_t), _show(eps), md, image(grid(to_uint8(strip, signed=True), len(STRIP), pad=1), len(STRIP) * 88),
            hist, _schedule_plot(sch, t), {"x": x_t, "t": t, "x0": x0, "T": T})


def q_steps(state: dict | None, sch_name: str, n: int, seed: float):
    """Apply q(x_t | x_{t-1}) n times from the current x_t: the chain, one step at a time."""
    if not state:
        raise gr.Error("Pick an image first (it starts the chain at the shown t).")
    sch = diffusion.make_schedule(sch_name, state["T"])
    x, t = state["x"], state["t"]
    for _ in range(int(n)):
        if t >= sch.T:
            break
        t += 1
        x = diffusion.q_step(x, t, diffusion.noise(tuple(x.shape), int(seed), t), sch)
    ab = float(sch.alpha_bar[t])
    md = (f"**q(x_t | x_{{t−1}}) = N(√(1 − β_t) x_{{t−1}}, β_t I)** applied step by step, now at t = **{t}**  \n"
          f"pixels: mean {x.mean():.3f}, std {x.std():.3f}; the closed form predicts mean √ᾱ_t·mean(x_0) = "
          f"{ab ** 0.5 * float(state['x0'].mean()):.3f} and, around it, noise of std "
          f"√(1 − ᾱ_t) = {(1 - ab) ** 0.5:.3f}")
    return _show(x), md, {**state, "x": x, "t": t}, t


# ---- lecture links (gen/ui/links.py): ?tab=ddpm&ds=fashion&seed=42&t=500, or &view=forward&ft=300 ------------------
CHAIN_T_JS = "document.querySelector('#ddpm-chain #ddpm-t')?.textContent"  # the t the chain on screen has reached


# ---- reverse process ------------------------------------------------------------------------
# The chain view is a small player in the browser (assets/ddpm_player.*): every reverse event sends frames (x_t,
# eps_theta, x0_hat, Algorithm 2's numbers, t, the filmstrip) as inline 28 px PNGs and the page paints them PLAY_FPS
# a second. Reset, Step and Jump send one still. Play watches a gen.chain.Film: its frames are computed ahead by the
# shared pool (once per distinct chain, however many students watch it) and sent as they come, so a Play costs CPU,
# not a worker for the length of the animation. Each chain button first stops the animation and reports the t on
# screen (`shown`), so Pause, Step, Jump and Play go on from the frame the visitor sees.
PLAY_FPS = 25
# s between two messages of a Play stream, each carrying the frames computed since the last one (the first goes at
# once): a message costs the server ~10-20 ms whatever it carries, and 40 students share 2 cores
SEND_EVERY = 0.4
MAX_CHUNK = 50  # frames per message at most: a finished film is not sent as one 1 MB message
# Films in the engine's own process (its own GIL); finished ones kept for the next viewer: a few MB each at most
FILMS = Films(POOL, max_bytes=32 * 2**20, process=True)

ASSETS = Path(__file__).parent / "assets"
CHAIN_HTML = (ASSETS / "ddpm_player.html").read_text().replace("{film_every}", str(FILM_EVERY))
CHAIN_CSS = (ASSETS / "ddpm_player.css").read_text()
CHAIN_JS = (ASSETS / "ddpm_player.js").read_text()  # paints the frames that the events below send
# A chain button's first act, in the page: stop the animation where it is and report the t on screen.
STOP_JS = ("() => { window.dispatchEvent(new Event('ddpm-stop')); "
           "return +document.querySelector('#ddpm-t').textContent; }")
PLAYING: dict[str, str] = {}  # session -> its latest Play stream: a second Play ends the first


def _numbers(step: diffusion.Step, sch: diffusion.Schedule, var: str, guided: bool = False) -> str:
    """Algorithm 2's update with this step's numbers, in lines of <= 60 characters (no wrap on a projector: 24 px
    at 1280 x 720). A guided chain uses eps~ (the guidance figure beside) where the plain one uses eps_theta."""
    t, e = step.t, ("ε̃" if guided else "ε_θ")
    a, ab, b = float(sch.alpha[t]), float(sch.alpha_bar[t]), float(sch.beta[t])
    return (f"<b>Algorithm 2</b>, step t = <b>{t}</b> → {t - 1}<br>"
            f"x_{{t−1}} = 1/√α_t · (x_t − (1−α_t)/√(1−ᾱ_t) · {e}) + σ_t z<br>"
            f"1/√α_t = {1 / a ** 0.5:.5f}, (1−α_t)/√(1−ᾱ_t) = {(1 - a) / (1 - ab) ** 0.5:.5f}<br>"
            f"σ_t = √{'β_t' if var == 'beta' else 'β̃_t'} = {step.sigma:.5f}, "
            f"z {'= 0 (last step)' if t == 1 else '~ N(0, I)'}<br>"
            f"β_t = {b:.5f}, ᾱ_t = {ab:.5f}, ‖{e}‖/28 = {step.eps.norm() / 28:.3f}<br>"
            f"predicted x̂_0 = (x_t − √(1 − ᾱ_t) {e})/√ᾱ_t")


def _png(x: torch.Tensor) -> str:
    return data_url(to_uint8(x, signed=True)[0])  # to_uint8 clamps to [-1, 1] already


def _film(strip) -> str:
    return data_url(grid(np.stack(strip), len(strip), pad=1))


def _cfg(g: diffusion.Guided, y: int, t_max: int | None) -> str:
    if g.eps_uncond is None:
        return (f"t &gt; {t_max}: <b>not guided here</b> (w = 0: ε_c alone, one U-Net pass); guidance starts at "
                f"t = {t_max}, where it sharpens the class without pulling every sample to the same image")
    return (f"w = <b>{g.w:g}</b>, y = <b>{y}</b> (Ho &amp; Salimans 2022, eq. 6)"
            + ("" if t_max is None else f", guided while t ≤ {t_max}") + "<br>"
            f"‖ε_c − ε_∅‖/28 = <b>{(g.eps_cond - g.eps_uncond).norm() / 28:.3f}</b>")


def _auto(g: diffusion.AutoGuided, t_max: int | None) -> str:
    if g.eps_weak is None:
        return (f"t &gt; {t_max}: <b>not guided here</b> (ε_θ alone); autoguidance starts at t = {t_max}: at the "
                "noisier steps it made Algorithm 2's samples worse (the model card)")
    return (f"w = <b>{g.w:g}</b> (Karras et al. 2024)" + ("" if t_max is None else f", guided while t ≤ {t_max}")
            + f"<br>‖ε_θ − ε_weak‖/28 = <b>{(g.eps_theta - g.eps_weak).norm() / 28:.3f}</b>")


# the guidance panel's captions: its two noise predictions, the equation, the title
CFG_LABELS = ["ε_θ(x_t, t, y)", "ε_θ(x_t, t, ∅)", "ε̃ = (1 + w) ε_θ(x_t, t, y) − w ε_θ(x_t, t, ∅)",
              "classifier-free guidance"]
AUTO_LABELS = ["ε_θ(x_t, t)", "ε_weak(x_t, t), a small U-Net", "ε̃ = (1 + w) ε_θ(x_t, t) − w ε_weak(x_t, t)",
               "autoguidance"]


def _frame(step: diffusion.Step, sch: diffusion.Schedule, var: str, eps: diffusion.EpsModel) -> dict:
    """One shown step of Algorithm 2, as the player paints it; a guided step also shows the two noise predictions
    it combines (classifier-free guidance: eps_cond and eps_uncond; autoguidance: eps_theta and eps_weak)."""
    guided = isinstance(eps, (diffusion.Guidance, diffusion.AutoGuidance))
    f = {"t": step.t - 1, "x_t": _png(step.prev_sample), "eps": _png(step.eps), "x0_hat": _png(step.pred_x0),
         "numbers": _numbers(step, sch, var, guided), "eps_c": None, "eps_u": None, "cfg": ""}
    if isinstance(eps, diffusion.Guidance) and eps.last is not None:
        g = eps.last
        f.update(eps_c=_png(g.eps_cond), eps_u=None if g.eps_uncond is None else _png(g.eps_uncond),
                 cfg=_cfg(g, int(eps.y[0]), eps.t_max), labels=CFG_LABELS)
    elif isinstance(eps, diffusion.AutoGuidance) and eps.last is not None:
        g = eps.last
        f.update(eps_c=_png(g.eps_theta), eps_u=None if g.eps_weak is None else _png(g.eps_weak),
                 cfg=_auto(g, eps.t_max), labels=AUTO_LABELS)
    return f


def _still(c: Chain) -> dict:
    return {"frames": [{**c.frame, "film": _film(c.strip)}], "fps": 0}


def reset(ds: str, seed: float, cls: str | None = NONE, w: float = 1.0):
    """x_T ~ N(0, I) from the seed (the class and w are read at every step: they may change along the chain)."""
    m = _model(ds)
    _eps(ds, cls, w, 1)  # a missing conditional model says so now, not at the first step
    x_T = diffusion.noise((1, 1, 28, 28), int(seed))
    frame = {"t": m.T, "x_t": _png(x_T), "eps": None, "x0_hat": None,
             "numbers": f"x_T ~ N(0, I), seed {int(seed)}: press Step or Play."}
    c = Chain(ds, int(seed), m.T, x_T, (to_uint8(x_T, signed=True)[0],), frame)
    return _still(c), c


def _shots(c: Chain, strip: list, var: str, every: int, cls: str | None, w: float, ag: float | None, stop: int = 0,
           batched: bool = False) -> Generator[Shot | list[Need], list | None, None]:
    """Algorithm 2 from the chain's x_t down to t = stop (toward class `cls` with guidance w, if any; else autoguided
    with weight ag where the model has a weak one): a Shot every
    `every` steps and at `stop`. `strip` is extended with x_t every FILM_EVERY steps; a shot's view carries the
    filmstrip when it changed since the previous shot. `batched` (a film): each step's U-Net calls are yielded as
    Needs for the film engine, which sends their outputs back (gen.chain.batched_steps)."""
    m, sch = _eps(c.ds, cls, w, 1)
    m = _autoguide(c.ds, cls, m, ag, "ddpm")
    if batched:
        def wrap(defer):  # the engine's stand-ins for the U-Nets: inside the guidance if any, the weak one's too
            if isinstance(m, diffusion.Guidance):
                m.model = defer(m.model)
            elif isinstance(m, diffusion.AutoGuidance):
                m.model, m.weak = defer(m.model), defer(m.weak)
            else:
                return defer(m)
            return m
        steps = batched_steps(wrap, sch, c.x, c.seed, c.t, var)
    else:
        steps = diffusion.sample_steps(m, sch, c.x, c.seed, t_start=c.t, var=var)
    changed, sent = False, None
    while True:
        try:
            step = steps.send(sent)
        except StopIteration:
            return
        sent = None
        if isinstance(step, (Need, list)):  # the model calls of a film's step, for the engine
            sent = yield step
            continue
        t = step.t - 1
        if t % FILM_EVERY == 0:
            strip.append(to_uint8(step.prev_sample, signed=True)[0])
            changed = True
        if t % every == 0 or t == stop:
            view = _frame(step, sch, var, m)
            if changed:
                view["film"], changed = _film(strip), False
            yield Shot(t, step.prev_sample, len(strip), view)
        if t == stop:
            return


def _film_shots(c: Chain, var: str, every: int, cls: str | None, w: float, ag: float | None,
                film) -> Iterator[Shot | list[Need]]:
    """A Play's film, as the film engine steps it (picklable with functools.partial: it runs in the engine's
    process)."""
    return _shots(c, film.strip, var, every, cls, w, ag, batched=True)


def _need(c: Chain | None) -> Chain:
    if not c:
        raise gr.Error("Press Reset to draw x_T first.", print_exception=False)
    return c


def _on_screen(c: Chain | None, shown: float | None) -> Chain:
    """The chain at the frame the visitor sees: a Play computes (and sends) frames ahead of the animation."""
    c = _need(c)
    if shown is None or c.film is None or int(shown) == c.t:
        return c
    if int(shown) == c.film.start.t:
        return c.film.start
    i = c.film.find(int(shown))
    return c.film.at(i) if i is not None else c


def _live(c: Chain) -> Chain:
    if c.t <= 0:
        raise gr.Error("The chain has reached x_0: press Reset for a new x_T.", print_exception=False)
    return c


def step_n(c: Chain | None, n: float, var: str, cls: str | None = NONE, w: float = 1.0, ag: float | None = None,
           shown: float | None = None):
    """Step the reverse chain n steps (1, 10, 100) from the frame on screen and show the last one."""
    c = _live(_on_screen(c, shown))
    strip = list(c.strip)
    *_, last = _shots(c, strip, var, 10 ** 9, cls, w, ag, stop=max(0, c.t - int(n)))
    c = Chain(c.ds, c.seed, last.t, last.x, tuple(strip), last.view)
    return _still(c), c


def jump(c: Chain | None, target: float, var: str, cls: str | None = NONE, w: float = 1.0, ag: float | None = None,
         shown: float | None = None):
    """Run the chain down to t = target."""
    c = _on_screen(c, shown)
    if int(target) >= c.t:
        raise gr.Error(f"The chain only runs downward: pick a t below the current t = {c.t}.", print_exception=False)
    return step_n(c, c.t - int(target), var, cls, w, ag)


def pause(c: Chain | None, shown: float | None = None):
    """After the animation stopped: the chain at the frame on screen."""
    c = _on_screen(c, shown)
    return _still(c), c


async def play(c: Chain | None, var: str, every: float, cls: str | None = NONE, w: float = 1.0,
               ag: float | None = None, shown: float | None = None, request: gr.Request | None = None):
    """Stream the chain from the frame on screen down to x_0, a frame every `every` steps. The frames come from a
    shared Film computed ahead by the pool; this only forwards them, and stops the film when nobody watches."""
    c = _live(_on_screen(c, shown))
    # one film per distinct chain: a class's w, or an unconditional chain's autoguidance w (None: the shipped one)
    plain = unconditional(cls)
    params = (var, int(every), NONE if plain else cls, 0.0 if plain else float(w),
              (_ag(c.ds, "ddpm") if ag is None else float(ag)) if plain else 0.0)
    base = c.film.start if c.film is not None and c.film.key == key(c.film.start, *params) else c
    film = FILMS.watch(key(base, *params), base, functools.partial(_film_shots, base, *params))
    play_id = f"{id(film):x}-{time.monotonic_ns():x}"
    session = getattr(request, "session_hash", None) or play_id
    PLAYING[session] = play_id
    try:
        with STREAMS.opened():
            async for out in _send_film(film, c, play_id, session):
                yield out
    finally:
        FILMS.leave(film)
        if PLAYING.get(session) == play_id:
            del PLAYING[session]


async def _send_film(film: Film, c: Chain, play_id: str, session: str):
    """A film's frames as Play messages: the ones past the visitor's t, in chunks, until the film ends or another
    Play of the session takes over."""
    i = 0
    while PLAYING.get(session) == play_id:
        while i < len(film.shots) and film.shots[i].t >= c.t:
            i += 1  # frames the visitor has already seen (the film started higher up)
        new = film.shots[i:i + MAX_CHUNK]
        if new:
            i += len(new)
            yield {"frames": [s.view for s in new], "fps": PLAY_FPS, "play": play_id}, film.at(i - 1)
            await asyncio.sleep(STREAMS.every(SEND_EVERY))
        elif film.error is not None:
            raise gr.Error(f"The chain failed: {film.error}", print_exception=False)
        elif film.ended.is_set():
            return
        else:
            await asyncio.sleep(0.02)


@shared(RESULTS)
@friendly
def partial(ds: str, index: float, upload, t0: float, seed: float, cls: str | None = NONE, w: float = 1.0,
            ag: float | None = None):
    """Noise a real image to t0 with q(x_t | x_0), then run Algorithm 2 from t0 (toward a class, if one is picked;
    else autoguided by ag, as the chain): what is kept, what invented."""
    m, sch = _eps(ds, cls, w, 1)
    m = _autoguide(ds, cls, m, ag, "ddpm")
    x0 = _x0(ds, index, upload)
    x_t = diffusion.q_sample(x0, int(t0), diffusion.noise(tuple(x0.shape), int(seed)), sch)
    out = diffusion.sample(m, sch, x_t, int(seed), t_start=int(t0)) if t0 > 0 else x_t
    return _show(x0), _show(x_t), _show(out)


@shared(RESULTS)
def ddpm_vs_ddim(ds: str, seed: float, S: float, eta: float = 0.0, cls: str | None = NONE, w: float = 1.0,
                 ag: float | None = None, chain_ag: float | None = None):
    """The same 4 x_T through Algorithm 2 (T steps; autoguided by chain_ag) and DDIM (S steps, eta; autoguided by
    ag), each timed."""
    m, sch = _eps(ds, cls, w, 4)
    m_ddim, m = _autoguide(ds, cls, m, ag), _autoguide(ds, cls, m, chain_ag, "ddpm")
    x_T = diffusion.noise((4, 1, 28, 28), int(seed))
    t = time.perf_counter()
    a = diffusion.sample(m, sch, x_T, int(seed))
    t_ddpm = time.perf_counter() - t
    t = time.perf_counter()
    b = diffusion.ddim_sample(m_ddim, sch, x_T, int(S), float(eta), int(seed))
    t_ddim = time.perf_counter() - t
    md = (f"DDPM: **{sch.T} steps, {t_ddpm:.2f} s** · DDIM (η = {eta:g}): **{int(S)} steps, {t_ddim:.2f} s** "
          f"({t_ddpm / max(t_ddim, 1e-9):.0f}× faster), same x_T, same trained ε_θ, on this server's CPU. "
          "η = 0 is deterministic; η = 1 adds fresh noise each step like Algorithm 2 (with S = T it *is* Algorithm 2)."
          + _autoguided(m, "Algorithm 2") + _autoguided(m_ddim, "DDIM"))
    name = _name(ds)
    if unconditional(cls) and (fids := sampler_fids(name, hub.read_json(name, "metrics.json"))):
        md += "  \n" + fids
    return image(grid(to_uint8(a, signed=True), 4), 4 * 84), image(grid(to_uint8(b, signed=True), 4), 4 * 84), md


@shared(RESULTS)
def samples(ds: str, seed: float, S: float, eta: float = 0.0, cls: str | None = NONE, w: float = 1.0,
            ag: float | None = None):
    """16 final samples with DDIM-S (fast; autoguided by ag), of one class if one is picked."""
    m, sch = _eps(ds, cls, w, 16)
    m = _autoguide(ds, cls, m, ag)
    x0 = diffusion.ddim_sample(m, sch, diffusion.noise((16, 1, 28, 28), int(seed)), int(S), float(eta), int(seed))
    return image(grid(to_uint8(x0, signed=True), 4), 336)


N_ROW = 6  # x_T's per row of the guidance figure


@shared(RESULTS)
def guidance_row(ds: str, cls: str | None, seed: float, S: float = 50):
    """The same N_ROW x_T sampled (DDIM-S) at w = 0, 1, 3, 8: one row per w, with each row's pixel diversity."""
    if unconditional(cls):
        raise gr.Error("Pick a class first: guidance pushes toward a class y.", print_exception=False)
    x_T = diffusion.noise((N_ROW, 1, 28, 28), int(seed))
    rows = []
    for w in W_ROW:
        eps, sch = _eps(ds, cls, w, N_ROW)
        rows.append(to_uint8(diffusion.ddim_sample(eps, sch, x_T, int(S)), signed=True))
    md = (f"Each row: the same x_T, sampled with DDIM-{int(S)} toward class **{cls}** at growing w. "
          "Diversity (mean per-pixel std across the row, 0..1): "
          + ", ".join(f"w = {w}: **{pixel_diversity(r):.3f}**" for w, r in zip(W_ROW, rows))
          + ". Larger w: the samples agree with the class more, look more alike, and at w = 8 over-saturate.")
    return image(grid(np.concatenate(rows), N_ROW), N_ROW * 120), md


INTRO = """### Denoising diffusion (DDPM, Ho et al. 2020)
**Forward:** add a little Gaussian noise T times (T = {T} here), q(x_t | x_{{t−1}}) = N(√(1 − β_t) x_{{t−1}}, β_t I),
until x_T is pure noise. **Reverse:** a U-Net ε_θ(x_t, t) learned to predict the noise (L_simple = E‖ε −
ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²), and Algorithm 2 removes it one step at a time.
"""
GUIDANCE = ("**Classifier-free guidance** (Ho & Salimans 2022): one U-Net learned both ε_θ(x_t, t, y) and, with the "
            "label dropped, ε_θ(x_t, t, ∅). Sampling uses ε̃ = (1 + w) ε_θ(x_t, t, y) − w ε_θ(x_t, t, ∅): w > 0 "
            "pushes past the conditional model, away from the unconditional one. Both models guide only in an "
            f"interval, while t ≤ {hub.REGISTRY['ddpm-cond-mnist'].guidance_t_max} (MNIST) or "
            f"{hub.REGISTRY['ddpm-cond-fashion'].guidance_t_max} (Fashion-MNIST) (Kynkäänniemi et al. 2024): at the "
            "noisiest steps guidance pulls every sample toward one typical image of the class; later it sharpens the "
            "class and keeps the variety (the cards: FID well below guiding at every step, at the same accuracy). "
            "Pick a class above; each row below starts from the same x_T.")


AUTOGUIDANCE = ("**Autoguidance** (Karras et al. 2024): DDIM's deterministic steps keep every error of ε_θ "
                "(the FIDs below: plain DDIM, η = 0, well above the chains with fresh noise, which washes errors "
                "out). A small U-Net trained briefly, ε_weak, makes the same kinds of errors, only more; stepping "
                "away from it, as guidance steps away from the unconditional model, ε̃ = (1 + w) ε_θ − w ε_weak, "
                "removes some of ε_θ's: no labels needed. w = 0: plain DDIM. Algorithm 2 (left) has its own w, at "
                "the top: its fresh noise already washes out errors at the noisy steps, so it is guided only near "
                "the end.")


def dataset_controls(names: set, ds: str, w: float):
    """On page open (a link may name the dataset) and on a change of dataset: its class names in the picker, its
    models' shipped w (unless the link names one) and autoguidance w (DDIM's, Algorithm 2's)."""
    return (gr.Dropdown(choices=class_choices(ds)), w if "w" in names else hub.REGISTRY[_name(ds, True)].guidance,
            _ag(ds), _ag(ds, "ddpm"))


def first_chain(names: set, ds: str, seed: float, cls: str | None, w: float, target: float, var: str,
                ag: float | None = None):
    """The chain on page open: x_T from the seed; run down to t when a lecture link names one (?tab=ddpm&t=500)."""
    view, c = reset(ds, seed, cls, w)
    return jump(c, target, var, cls, w, ag) if "t" in names and int(target) < c.t else (view, c)


def _button(label: str, **kw) -> gr.Button:
    return gr.Button(label, size="md", min_width=kw.pop("min_width", 70), **kw)


def _image(label: str, **kw) -> gr.Image:
    return gr.Image(label=label, format="png", elem_classes="crisp", interactive=False, **kw)


def _controls(v: SimpleNamespace) -> None:
    with gr.Row(equal_height=True):
        v.ds = gr.Radio(list(DATASETS), value=DATASET, label="Dataset (all views)", scale=2)
        v.cls = gr.Dropdown(class_choices(DATASET), value=NONE, label="class y (classifier-free guidance)",
                            elem_id="ddpm-class", scale=2)
        v.w = gr.Slider(-1, 8, hub.REGISTRY[_name(DATASET, True)].guidance, step=0.05, elem_id="ddpm-w", scale=2,
                        label="class guidance w (0: off, −1: p(x))")
        # Algorithm 2 without a class: the weak model's w (its interval is the shipped one); the page shows the
        # picked dataset's, the API's default is the default dataset's (as for the other two w)
        v.cag = gr.Slider(0, 2, _ag(DATASET, "ddpm"), step=0.1, elem_id="ddpm-cag", scale=2,
                          label="Algorithm 2 autoguidance w (0: off)")


def _reverse(v: SimpleNamespace) -> None:
    with gr.Tab("Reverse: denoise step by step"):
        with gr.Row():
            _chain_buttons(v)
            with gr.Column(scale=3):
                v.view = gr.HTML(None, html_template=CHAIN_HTML, css_template=CHAIN_CSS, js_on_load=CHAIN_JS,
                                 elem_id="ddpm-chain", padding=False)
        gr.Markdown(INTRO.format(T=v.T), elem_classes="intro")
        v.chain = gr.State(None)  # inside the tab: a component between two tabs would split their tab bar
        v.shown = gr.Number(None, visible=False)  # the t on screen when a chain button was pressed (STOP_JS)


def _chain_buttons(v: SimpleNamespace) -> None:
    with gr.Column(scale=1, min_width=280):
        v.seed = gr.Number(0, label="seed of x_T", precision=0, minimum=0, min_width=90)
        with gr.Row():
            v.reset = _button("Reset x_T", min_width=90)
            v.play = _button("▶ Play", variant="primary", elem_id="ddpm-play", min_width=90)
            v.pause = _button("Pause", variant="stop", elem_id="ddpm-pause", min_width=90)
        with gr.Row():
            v.steps = {1: _button("Step 1", elem_id="ddpm-step1"), 10: _button("Step 10"), 100: _button("Step 100")}
        with gr.Row():
            v.target = gr.Number(v.T // 2, label="jump to t", precision=0, minimum=0, maximum=v.T - 1, min_width=90)
            v.jump = _button("Jump")
        v.var = gr.Radio([("β_t", "beta"), ("β̃_t", "beta_tilde")], value="beta", label="σ_t² =")
        v.every = gr.Radio([1, 5, 10, 25], value=5, label="Play: steps per frame", elem_id="ddpm-every")


def _forward(v: SimpleNamespace) -> None:
    with gr.Tab("Forward: add noise", id="ddpm-forward") as v.fwd_tab:
        with gr.Row():
            with gr.Column(scale=1):
                v.index = gr.Number(0, label=f"test image index (0 … {LAST_TEST})", precision=0, minimum=0,
                                    maximum=LAST_TEST, elem_id="ddpm-forward-index")
                v.upload = readable_upload(gr.Image(label="...or upload / paste", type="filepath", image_mode=None,
                                                    sources=["upload", "clipboard"], height=150))  # see vae_tab
                v.sch_name = gr.Radio(["linear", "cosine"], value="linear", label="schedule")
                v.t = gr.Slider(0, v.T, v.T // 10, step=1, label="t", elem_id="ddpm-forward-t")
                v.eps_seed = gr.Number(0, label="seed of ε", precision=0)
                with gr.Row():
                    v.q1, v.q10 = gr.Button("q step ×1"), gr.Button("q step ×10")
            with gr.Column(scale=2):
                with gr.Row():
                    v.xt_img, v.e_img = _image("x_t", height=224, elem_id="ddpm-forward-xt"), _image("ε", height=224)
                    v.f_md = gr.Markdown(elem_classes="numbers", elem_id="ddpm-forward-numbers")
                v.strip = _image("x_t at t = " + ", ".join(map(str, _strip_t(v.T))))
        with gr.Row():
            v.hist, v.sched = gr.HTML(elem_id="ddpm-hist"), gr.HTML(elem_id="ddpm-schedules")
        v.fwd_state = gr.State(None)


def _samplers(v: SimpleNamespace) -> None:
    with gr.Tab("Partial denoising"):
        gr.Markdown("Noise a real image (the one picked under *Forward*) to t₀, then run the reverse chain from t₀. "
                    "Small t₀: the model keeps the digit. Large t₀: it invents a new one.")
        with gr.Row():
            v.t0 = gr.Slider(0, v.T, round(0.4 * v.T, -1), step=10, label="t₀")
            v.p_seed = gr.Number(0, label="seed", precision=0)
            v.p_go = gr.Button("Noise and denoise", variant="primary")
        with gr.Row():
            v.partial = [_image(lbl, height=224) for lbl in ("x_0 (real)", "x_t₀ = noised", "denoised from t₀")]
    with gr.Tab("Guidance: draw me a 7"):
        gr.Markdown(GUIDANCE)
        with gr.Row():
            v.r_seed = gr.Number(0, label="seed of the x_T's", precision=0)
            v.r_S = gr.Slider(10, 100, 50, step=10, label="DDIM steps S")
            v.r_go = gr.Button(f"Sample at w = {', '.join(map(str, W_ROW))}", variant="primary")
        with gr.Row():
            v.row = [_image("rows: w = " + ", ".join(map(str, W_ROW)), elem_id="ddpm-guidance-row"),
                     gr.Markdown(elem_classes="numbers")]
    with gr.Tab("DDPM vs DDIM, samples"):
        gr.Markdown(AUTOGUIDANCE)
        with gr.Row():
            v.c_seed = gr.Number(0, label="seed", precision=0)
            v.S = gr.Slider(5, 200, 50, step=5, label="DDIM steps S")
            v.eta = gr.Slider(0, 1, 0, step=0.1, label="DDIM η (0: deterministic, 1: like DDPM)")
            # the API's default is the default dataset's w (as for the guidance w); the page shows the picked one's
            v.ag = gr.Slider(0, 2, _ag(DATASET), step=0.1, label="DDIM autoguidance w (0: off)", elem_id="ddpm-ag")
            v.c_go = gr.Button("Sample the same x_T both ways (DDPM takes seconds)", variant="primary")
            v.g_go = gr.Button("16 samples (DDIM)")
        c_md = gr.Markdown(elem_classes="numbers")
        with gr.Row():
            v.compare = [_image("DDPM, T steps"), _image("DDIM, S steps"), c_md]
            v.g_img = _image("samples", elem_id="ddpm-samples")


def _wire_chain(v: SimpleNamespace) -> None:
    """Every chain button first stops the animation in the page and reports the t on screen (STOP_JS)."""
    # a class, w and the autoguidance w are read at every event: they may change along the chain
    out, guide = [v.view, v.chain], [v.cls, v.w, v.cag]
    stop = dict(fn=None, inputs=None, outputs=v.shown, js=STOP_JS, queue=False, api_name=False)
    play_ev = v.play.click(**stop).then(play, [v.chain, v.var, v.every, *guide, v.shown], out, api_name="ddpm_play",
                                        show_progress="hidden", trigger_mode="multiple", concurrency_limit=None,
                                        postprocess=False)  # the frames go out as they are: no thread hop each
    cut = dict(cancels=[play_ev], show_progress="hidden")  # any other chain event ends a Play stream
    resets = dict(fn=reset, inputs=[v.ds, v.seed, v.cls, v.w], outputs=out, **cut)
    v.reset.click(**resets, api_name="ddpm_reset")
    v.ds.input(lambda d: dataset_controls(set(), d, 0.0), v.ds, [v.cls, v.w, v.ag, v.cag], api_name=False).then(
        **resets, api_name=False)  # each model's own shipped weights
    v.seed.submit(**resets, api_name=False)
    for n, b in v.steps.items():
        b.click(**stop, **cut).then(lambda st, var, c, g, a, sh=None, n=n: step_n(st, n, var, c, g, a, sh),
                                    [v.chain, v.var, *guide, v.shown], out, api_name=f"ddpm_step{n}", **cut, **HEAVY)
    v.pause.click(**stop, **cut).then(pause, [v.chain, v.shown], out, api_name=False, show_progress="hidden")
    v.jump.click(**stop, **cut).then(jump, [v.chain, v.target, v.var, *guide, v.shown], out, api_name="ddpm_jump",
                                     **cut, **HEAVY)
    links.on_load("ddpm", dataset_controls, [v.ds, v.w], [v.cls, v.w, v.ag, v.cag], with_names=True, api_name=False)
    links.on_load("ddpm", first_chain, [v.ds, v.seed, v.cls, v.w, v.target, v.var, v.cag], out, with_names=True,
                  show_progress="hidden")


def _wire_views(v: SimpleNamespace) -> None:
    guide = [v.cls, v.w]
    fwd_in = [v.ds, v.index, v.upload, v.sch_name, v.t, v.eps_seed]
    fwd_out = [v.xt_img, v.e_img, v.f_md, v.strip, v.hist, v.sched, v.fwd_state]
    quiet = dict(api_name=False, show_progress="hidden")
    v.t.input(forward, fwd_in, fwd_out, **{**quiet, **FAST})  # live while dragging; .release below, queued, may warn
    v.ds.input(forward, fwd_in, fwd_out, **quiet)
    for c in (v.index, v.upload, v.sch_name, v.eps_seed):
        c.change(forward, fwd_in, fwd_out, **quiet)
    v.t.release(forward, fwd_in, fwd_out, api_name="ddpm_forward", show_progress="hidden")
    for n, b in ((1, v.q1), (10, v.q10)):
        b.click(lambda st, s, sd, n=n: q_steps(st, s, n, sd), [v.fwd_state, v.sch_name, v.eps_seed],
                [v.xt_img, v.f_md, v.fwd_state, v.t], api_name=False)
    v.p_go.click(partial, [v.ds, v.index, v.upload, v.t0, v.p_seed, *guide, v.cag], v.partial,
                 api_name="ddpm_partial", **HEAVY)
    v.r_go.click(guidance_row, [v.ds, v.cls, v.r_seed, v.r_S], v.row, api_name="ddpm_guided_sample", **HEAVY)
    ddim_in = [v.ds, v.c_seed, v.S, v.eta, *guide, v.ag]
    v.c_go.click(ddpm_vs_ddim, [*ddim_in, v.cag], v.compare, api_name="ddpm_sample", **HEAVY)
    v.g_go.click(samples, ddim_in, v.g_img, api_name="ddim_sample", **HEAVY)
    links.on_load("ddpm", forward, fwd_in, fwd_out, show_progress="hidden")
    # on page open the w slider may still hold the default dataset's w (dataset_controls runs beside): the shipped one
    links.on_load("ddpm", lambda *a: samples(*a[:-1], None), ddim_in, v.g_img, **HEAVY)


def build(demo: gr.Blocks) -> None:
    """The tab's components, its events, and its first view: filled on page load like every tab (links.on_load)."""
    gr.Markdown(missing(hub.generators("ddpm")), elem_classes="banner")
    v = SimpleNamespace(T=_T(DATASET))
    for section in (_controls, _reverse, _forward, _samplers):
        section(v)
    _wire_chain(v)
    _wire_views(v)
    links.register("ddpm", ds=v.ds, y=v.cls, w=v.w, seed=v.seed, t=links.Link(v.target, read=CHAIN_T_JS, default=v.T),
                   view=links.subtabs(forward=v.fwd_tab), img=v.index, sched=v.sch_name, ft=v.t, eps=v.eps_seed)
