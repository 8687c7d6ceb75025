"""The DDPM tab: the forward noising process and the reverse denoising chain, step by step."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch

from gen import data, diffusion, hub
from gen.cache import shared
from gen.images import data_url, grid, pixel_diversity, preprocess, to_float, to_uint8
from gen.ui.common import DATASETS, NONE, RESULTS, class_choices, friendly, image, missing, model, readable_upload

STRIP_T = [0, 50, 100, 200, 300, 400, 500, 700, 1000]
FILM_EVERY = 50  # the filmstrip keeps x_t every this many steps


W_ROW = (0, 1, 3, 8)  # the guidance row: the same x_T at growing w


def _name(ds: str, conditional: bool = False) -> str:
    if ds not in DATASETS:
        raise gr.Error(f"Unknown dataset {ds!r}; choose one of {', '.join(DATASETS)}.")
    return hub.generators("ddpm", DATASETS[ds], conditional)[0]


def _model(ds: str):
    return model(_name(ds))


def _eps(ds: str, cls: str | None, w: float, n: int) -> tuple[diffusion.EpsModel, diffusion.Schedule]:
    """The noise predictor to sample with: the unconditional U-Net, or the conditional one guided toward class
    `cls` with weight w (classifier-free guidance), for a batch of n images."""
    if cls in (None, "", NONE):
        m = _model(ds)
        return m, diffusion.schedule_of(m)
    if not str(cls).isdigit() or not 0 <= int(cls) <= 9:
        raise gr.Error(f"Unknown class {cls!r}: pick one of 0..9 or 'none'.")
    m = model(_name(ds, conditional=True))
    return diffusion.Guidance(m, torch.full((n,), int(cls)), float(w), m.null_class), diffusion.schedule_of(m)


def _x0(ds: str, index: float, upload) -> torch.Tensor:
    """x_0 in [-1, 1], [1,1,28,28]: an uploaded image if given, else a test image."""
    if upload is not None:
        return to_float(preprocess(upload).image[None], signed=True)
    x, _ = data.test_sample(DATASETS[ds])
    return to_float(x[int(index) % len(x)][None], signed=True)


def _show(x: torch.Tensor, size: int = 224) -> np.ndarray:
    return image(to_uint8(x, signed=True)[0], size)


def _schedule_plot(sch_name: str, t: int) -> pd.DataFrame:
    rows = []
    for name in ("linear", "cosine"):
        s = diffusion.make_schedule(name)
        for tt in range(0, s.T + 1, 10):
            rows += [(tt, float(s.alpha_bar[tt]), f"ᾱ_t {name}"), (tt, float(s.beta[tt]) * 20, f"20·β_t {name}")]
    rows += [(t, 0.0, "current t"), (t, 1.0, "current t")]
    return pd.DataFrame(rows, columns=["t", "value", "curve"])


@friendly
def forward(ds: str, index: float, upload, sch_name: str, t: float, seed: float):
    """x_t from the closed form q(x_t | x_0), with every number of the equation."""
    t = int(t)
    sch = diffusion.make_schedule(sch_name)
    x0 = _x0(ds, index, upload)
    eps = diffusion.noise(tuple(x0.shape), int(seed))
    x_t = diffusion.q_sample(x0, t, eps, sch)
    strip = torch.cat([diffusion.q_sample(x0, s, eps, sch) for s in STRIP_T])
    ab = float(sch.alpha_bar[t])
    centres, density, normal = diffusion.pixel_histogram(x_t)
    hist = pd.DataFrame({"pixel value": centres * 2, "density": density + normal,
                         "of": ["x_t pixels"] * len(centres) + ["N(0, 1)"] * len(centres)})
    md = (f"**q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)**, so x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε\n\n"
          f"t = **{t}** ({sch_name}): β_t = {float(sch.beta[t]):.5f}, ᾱ_t = {ab:.5f}  \n"
          f"√ᾱ_t = **{ab ** 0.5:.4f}**, √(1 − ᾱ_t) = **{(1 - ab) ** 0.5:.4f}**  \n"
          f"SNR = ᾱ_t / (1 − ᾱ_t) = **{sch.snr(t):.4g}**  \n"
          f"pixels of x_t: mean {x_t.mean():.3f}, std {x_t.std():.3f} (→ 0 and 1 as t → T)")
    return (_show(x_t), _show(eps), md, image(grid(to_uint8(strip, signed=True), len(STRIP_T), pad=1), 9 * 84),
            hist, _schedule_plot(sch_name, t), {"x": x_t, "t": t, "x0": x0})


def q_steps(state: dict | None, sch_name: str, n: int, seed: float):
    """Apply q(x_t | x_{t-1}) n times from the current x_t: the chain, one step at a time."""
    if not state:
        raise gr.Error("Pick an image first (it starts the chain at the shown t).")
    sch = diffusion.make_schedule(sch_name)
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


# ---- reverse process ------------------------------------------------------------------------
# The chain view is a small player in the browser: every reverse event sends frames (x_t, eps_theta,
# x0_hat, Algorithm 2's numbers, t, the filmstrip) as inline 28 px PNGs. Reset/Step/Jump send one still;
# Play sends them CHUNK at a time and the page paints PLAY_FPS a second. One message per frame would cap
# the animation at Gradio's per-message rate (about 12 a second on 2 cores, measured), not at the model's.
PLAY_FPS, CHUNK = 25, 8

ASSETS = Path(__file__).parent / "assets"
CHAIN_HTML = (ASSETS / "ddpm_player.html").read_text().replace("{film_every}", str(FILM_EVERY))
CHAIN_CSS = (ASSETS / "ddpm_player.css").read_text()
CHAIN_JS = (ASSETS / "ddpm_player.js").read_text()  # paints the frames that the events below send


def _numbers(step: diffusion.Step, sch: diffusion.Schedule, var: str, guided: bool = False) -> str:
    t = step.t
    a, ab, b = float(sch.alpha[t]), float(sch.alpha_bar[t]), float(sch.beta[t])
    return (f"<b>Algorithm 2</b>, step t = <b>{t}</b> → {t - 1}<br>"
            f"x_{{t−1}} = 1/√α_t · (x_t − (1 − α_t)/√(1 − ᾱ_t) · ε_θ(x_t, t)) + σ_t z<br>"
            f"1/√α_t = {1 / a ** 0.5:.5f}, (1 − α_t)/√(1 − ᾱ_t) = {(1 - a) / (1 - ab) ** 0.5:.5f}, "
            f"σ_t = √{'β_t' if var == 'beta' else 'β̃_t'} = {step.sigma:.5f}<br>"
            f"β_t = {b:.5f}, ᾱ_t = {ab:.5f}, ‖ε_θ‖/28 = {step.eps.norm() / 28:.3f}, "
            f"z {'= 0 (last step)' if t == 1 else '~ N(0, I)'}<br>"
            f"predicted x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t"
            + ("<br>guided: ε_θ above is ε̃ = (1 + w) ε_θ(x_t, t, y) − w ε_θ(x_t, t, ∅); w = 0 is the conditional "
               "model, w = −1 the unconditional one" if guided else ""))


def _png(x: torch.Tensor) -> str:
    return data_url(to_uint8(x, signed=True)[0])  # to_uint8 clamps to [-1, 1] already


def _film(state: dict) -> str:
    return data_url(grid(np.stack(state["film"]), len(state["film"]), pad=1))


def _cfg(g: diffusion.Guided, y: int) -> str:
    return (f"w = <b>{g.w:g}</b>, y = <b>{y}</b> (Ho &amp; Salimans 2022, eq. 6)<br>"
            f"‖ε_c − ε_∅‖/28 = <b>{(g.eps_cond - g.eps_uncond).norm() / 28:.3f}</b>")


def _frame(step: diffusion.Step, sch: diffusion.Schedule, var: str, eps: diffusion.EpsModel) -> dict:
    """One shown step of Algorithm 2, as the player paints it; a guided step also shows eps_cond and eps_uncond."""
    f = {"t": step.t - 1, "x_t": _png(step.prev_sample), "eps": _png(step.eps), "x0_hat": _png(step.pred_x0),
         "numbers": _numbers(step, sch, var, isinstance(eps, diffusion.Guidance)), "eps_c": None, "eps_u": None,
         "cfg": ""}
    if isinstance(eps, diffusion.Guidance) and eps.last is not None:
        g = eps.last
        f.update(eps_c=_png(g.eps_cond), eps_u=_png(g.eps_uncond), cfg=_cfg(g, int(eps.y[0])))
    return f


def _still(state: dict) -> dict:
    return {"frames": [{**state["frame"], "film": _film(state)}], "fps": 0}


def reset(ds: str, seed: float, cls: str | None = NONE, w: float = 1.0):
    """x_T ~ N(0, I) from the seed (the class and w are read at every step: they may change along the chain)."""
    m = _model(ds)
    _eps(ds, cls, w, 1)  # a missing conditional model says so now, not at the first step
    x_T = diffusion.noise((1, 1, 28, 28), int(seed))
    frame = {"t": m.T, "x_t": _png(x_T), "eps": None, "x0_hat": None,
             "numbers": f"x_T ~ N(0, I), seed {int(seed)}: press Step or Play."}
    state = {"x": x_T, "t": m.T, "seed": int(seed), "ds": ds, "film": [to_uint8(x_T, signed=True)[0]],
             "frame": frame}
    return _still(state), state


def _run(state: dict, n: int, var: str, every: int = 1, cls: str | None = NONE, w: float = 1.0):
    """Advance the chain by up to n steps (toward class `cls` with guidance w, if any); yields (frame, state) every
    `every` steps and at the end. A frame carries the filmstrip when it changed since the last frame."""
    m, sch = _eps(state["ds"], cls, w, 1)
    if state["t"] <= 0:
        raise gr.Error("The chain has reached x_0: press Reset for a new x_T.")
    stop = max(0, state["t"] - int(n))
    film_changed = False
    for step in diffusion.sample_steps(m, sch, state["x"], state["seed"], t_start=state["t"], var=var):
        state = {**state, "x": step.prev_sample, "t": step.t - 1}
        if state["t"] % FILM_EVERY == 0:
            state["film"] = state["film"] + [to_uint8(step.prev_sample, signed=True)[0]]
            film_changed = True
        if state["t"] == stop or (state["t"] - stop) % every == 0:
            state["frame"] = frame = _frame(step, sch, var, m)
            yield ({**frame, "film": _film(state)} if film_changed else frame), state
            film_changed = False
        if state["t"] == stop:
            return


def step_n(state: dict, n: float, var: str, cls: str | None = NONE, w: float = 1.0):
    """Step the reverse chain n steps (1, 10, 100) and show the last one."""
    *_, (_, state) = _run(_need(state), int(n), var, 10 ** 9, cls, w)
    return _still(state), state


def play(state: dict, var: str, every: float, cls: str | None = NONE, w: float = 1.0):
    """Stream the chain, a frame every `every` steps, until t = 0 or Pause. The server keeps about one chunk
    ahead of what the page has painted, so Pause stops close to the frame on screen."""
    start, sent, chunk = time.monotonic(), 0, []
    for frame, st in _run(_need(state), 10 ** 9, var, int(every), cls, w):
        chunk.append(frame)
        if len(chunk) == CHUNK or st["t"] == 0:
            yield {"frames": chunk, "fps": PLAY_FPS}, st
            sent, chunk = sent + len(chunk), []
            time.sleep(max(0.0, start + (sent - CHUNK) / PLAY_FPS - time.monotonic()))


def pause(state: dict | None):
    """After Play is cancelled: show where the chain really is (the last frame sent)."""
    return _still(_need(state))


def jump(state: dict, target: float, var: str, cls: str | None = NONE, w: float = 1.0):
    """Run the chain down to t = target."""
    state = _need(state)
    if int(target) >= state["t"]:
        raise gr.Error(f"The chain only runs downward: pick a t below the current t = {state['t']}.")
    return step_n(state, state["t"] - int(target), var, cls, w)


def _need(state: dict | None) -> dict:
    if not state:
        raise gr.Error("Press Reset to draw x_T first.")
    return state


@shared(RESULTS)
@friendly
def partial(ds: str, index: float, upload, t0: float, seed: float, cls: str | None = NONE, w: float = 1.0):
    """Noise a real image to t0 with q(x_t | x_0), then run Algorithm 2 from t0 (toward a class, if one is picked):
    what is kept, what invented."""
    m, sch = _eps(ds, cls, w, 1)
    x0 = _x0(ds, index, upload)
    x_t = diffusion.q_sample(x0, int(t0), diffusion.noise(tuple(x0.shape), int(seed)), sch)
    out = diffusion.sample(m, sch, x_t, int(seed), t_start=int(t0)) if t0 > 0 else x_t
    return _show(x0), _show(x_t), _show(out)


@shared(RESULTS)
def ddpm_vs_ddim(ds: str, seed: float, S: float, eta: float = 0.0, cls: str | None = NONE, w: float = 1.0):
    """The same 4 x_T through Algorithm 2 (T steps) and DDIM (S steps, eta), each timed."""
    m, sch = _eps(ds, cls, w, 4)
    x_T = diffusion.noise((4, 1, 28, 28), int(seed))
    t = time.perf_counter()
    a = diffusion.sample(m, sch, x_T, int(seed))
    t_ddpm = time.perf_counter() - t
    t = time.perf_counter()
    b = diffusion.ddim_sample(m, sch, x_T, int(S), float(eta), int(seed))
    t_ddim = time.perf_counter() - t
    md = (f"DDPM: **{sch.T} steps, {t_ddpm:.2f} s** · DDIM (η = {eta:g}): **{int(S)} steps, {t_ddim:.2f} s** "
          f"({t_ddpm / max(t_ddim, 1e-9):.0f}× faster), same x_T, same trained ε_θ, on this server's CPU. "
          "η = 0 is deterministic; η = 1 adds fresh noise each step like Algorithm 2 (with S = T it *is* Algorithm 2).")
    return image(grid(to_uint8(a, signed=True), 4), 4 * 84), image(grid(to_uint8(b, signed=True), 4), 4 * 84), md


@shared(RESULTS)
def samples(ds: str, seed: float, S: float, eta: float = 0.0, cls: str | None = NONE, w: float = 1.0):
    """16 final samples with DDIM-S (fast), of one class if one is picked."""
    m, sch = _eps(ds, cls, w, 16)
    x0 = diffusion.ddim_sample(m, sch, diffusion.noise((16, 1, 28, 28), int(seed)), int(S), float(eta), int(seed))
    return image(grid(to_uint8(x0, signed=True), 4), 336)


N_ROW = 6  # x_T's per row of the guidance figure


@shared(RESULTS)
def guidance_row(ds: str, cls: str | None, seed: float, S: float = 50):
    """The same N_ROW x_T sampled (DDIM-S) at w = 0, 1, 3, 8: one row per w, with each row's pixel diversity."""
    if cls in (None, "", NONE):
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
    return image(grid(np.concatenate(rows), N_ROW), N_ROW * 84), md


INTRO = """### Denoising diffusion (DDPM, Ho et al. 2020)
**Forward:** add a little Gaussian noise T = 1000 times, q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I), until x_T is
pure noise. **Reverse:** a U-Net ε_θ(x_t, t) learned to predict the noise (L_simple = E‖ε − ε_θ(√ᾱ_t x_0 +
√(1 − ᾱ_t) ε, t)‖²), and Algorithm 2 removes it one step at a time.
"""


def build(demo: gr.Blocks) -> None:
    gr.Markdown(missing(hub.generators("ddpm")), elem_classes="banner")
    with gr.Row(equal_height=True):
        ds = gr.Radio(list(DATASETS), value="MNIST", label="Dataset (all views)", scale=2)
        cls = gr.Dropdown(class_choices("MNIST"), value=NONE, label="class y (classifier-free guidance)",
                          elem_id="ddpm-class", scale=2)
        w = gr.Slider(-1, 8, hub.REGISTRY[_name("MNIST", True)].guidance, step=0.5, elem_id="ddpm-w", scale=2,
                      label="guidance w (0: conditional, −1: unconditional)")
    with gr.Tab("Reverse: denoise step by step"):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                seed = gr.Number(0, label="seed of x_T", precision=0, minimum=0, min_width=90)
                with gr.Row():
                    reset_b = gr.Button("Reset x_T", size="md", min_width=90)
                    play_b = gr.Button("▶ Play", variant="primary", elem_id="ddpm-play", size="md", min_width=90)
                    pause_b = gr.Button("Pause", variant="stop", elem_id="ddpm-pause", size="md", min_width=90)
                with gr.Row():
                    s1 = gr.Button("Step 1", size="md", min_width=70, elem_id="ddpm-step1")
                    s10 = gr.Button("Step 10", size="md", min_width=70)
                    s100 = gr.Button("Step 100", size="md", min_width=70)
                with gr.Row():
                    target = gr.Number(500, label="jump to t", precision=0, minimum=0, maximum=999, min_width=90)
                    jump_b = gr.Button("Jump", size="md", min_width=70)
                var = gr.Radio([("β_t", "beta"), ("β̃_t", "beta_tilde")], value="beta", label="σ_t² =")
                every = gr.Radio([1, 5, 10, 25], value=5, label="Play: steps per frame", elem_id="ddpm-every")
            with gr.Column(scale=3):
                view = gr.HTML(None, html_template=CHAIN_HTML, css_template=CHAIN_CSS, js_on_load=CHAIN_JS,
                               elem_id="ddpm-chain", padding=False)
        chain = gr.State(None)
        gr.Markdown(INTRO, elem_classes="intro")
    with gr.Tab("Forward: add noise"):
        with gr.Row():
            with gr.Column(scale=1):
                index = gr.Number(0, label="test image index", precision=0, minimum=0, maximum=1999)
                upload = readable_upload(gr.Image(label="...or upload / paste", type="filepath", image_mode=None,
                                                  sources=["upload", "clipboard"], height=150))  # see vae_tab
                sch_name = gr.Radio(["linear", "cosine"], value="linear", label="schedule")
                t = gr.Slider(0, 1000, 100, step=1, label="t", elem_id="ddpm-forward-t")
                eps_seed = gr.Number(0, label="seed of ε", precision=0)
                with gr.Row():
                    q1, q10 = gr.Button("q step ×1"), gr.Button("q step ×10")
            with gr.Column(scale=2):
                with gr.Row():
                    xt_img = gr.Image(label="x_t", format="png", elem_classes="crisp", interactive=False, height=224)
                    e_img = gr.Image(label="ε", format="png", elem_classes="crisp", interactive=False, height=224)
                    f_md = gr.Markdown(elem_classes="numbers")
                strip = gr.Image(label="x_t at t = " + ", ".join(map(str, STRIP_T)), format="png",
                                 elem_classes="crisp", interactive=False)
        with gr.Row():
            hist = gr.LinePlot(x="pixel value", y="density", color="of", title="pixel histogram of x_t vs N(0, 1)",
                               height=260)
            sched = gr.LinePlot(x="t", y="value", color="curve", title="schedules (current t marked)", height=260)
        fwd_state = gr.State(None)
    with gr.Tab("Partial denoising"):
        gr.Markdown("Noise a real image (the one picked under *Forward*) to t₀, then run the reverse chain from t₀. "
                    "Small t₀: the model keeps the digit. Large t₀: it invents a new one.")
        with gr.Row():
            t0 = gr.Slider(0, 1000, 400, step=10, label="t₀")
            p_seed = gr.Number(0, label="seed", precision=0)
            p_go = gr.Button("Noise and denoise", variant="primary")
        with gr.Row():
            p0, pt, pout = (gr.Image(label=lbl, format="png", elem_classes="crisp", interactive=False, height=224)
                            for lbl in ("x_0 (real)", "x_t₀ = noised", "denoised from t₀"))
    with gr.Tab("Guidance: draw me a 7"):
        gr.Markdown("**Classifier-free guidance** (Ho & Salimans 2022): one U-Net learned both ε_θ(x_t, t, y) and, "
                    "with the label dropped, ε_θ(x_t, t, ∅). Sampling uses ε̃ = (1 + w) ε_θ(x_t, t, y) − w ε_θ(x_t, "
                    "t, ∅): w > 0 pushes past the conditional model, away from the unconditional one. Pick a class "
                    "above; each row below starts from the same x_T.")
        with gr.Row():
            r_seed = gr.Number(0, label="seed of the x_T's", precision=0)
            r_S = gr.Slider(10, 100, 50, step=10, label="DDIM steps S")
            r_go = gr.Button(f"Sample at w = {', '.join(map(str, W_ROW))}", variant="primary")
        with gr.Row():
            r_img = gr.Image(label="rows: w = " + ", ".join(map(str, W_ROW)), format="png", elem_classes="crisp",
                             interactive=False, elem_id="ddpm-guidance-row")
            r_md = gr.Markdown(elem_classes="numbers")
    with gr.Tab("DDPM vs DDIM, samples"):
        with gr.Row():
            c_seed = gr.Number(0, label="seed", precision=0)
            S = gr.Slider(5, 200, 50, step=5, label="DDIM steps S")
            eta = gr.Slider(0, 1, 0, step=0.1, label="DDIM η (0: deterministic, 1: like DDPM)")
            c_go = gr.Button("Sample the same x_T both ways (DDPM takes seconds)", variant="primary")
            g_go = gr.Button("16 samples (DDIM)")
        c_md = gr.Markdown(elem_classes="numbers")
        with gr.Row():
            c_ddpm = gr.Image(label="DDPM, T steps", format="png", elem_classes="crisp", interactive=False)
            c_ddim = gr.Image(label="DDIM, S steps", format="png", elem_classes="crisp", interactive=False)
            g_img = gr.Image(label="samples", format="png", elem_classes="crisp", interactive=False)

    frame_out = [view, chain]
    guide = [cls, w]  # read by every event that samples: a class and w may change along the chain
    reset_ev = dict(fn=reset, inputs=[ds, seed, *guide], outputs=frame_out, show_progress="hidden")
    reset_b.click(**reset_ev, api_name="ddpm_reset")
    ds.change(lambda d: (gr.Dropdown(choices=class_choices(d)), hub.REGISTRY[_name(d, True)].guidance), ds,
              [cls, w], api_name=False).then(**reset_ev, api_name=False)  # each model's own shipped w
    seed.submit(**reset_ev, api_name=False)
    for b, n in ((s1, 1), (s10, 10), (s100, 100)):
        b.click(lambda st, v, c, g, n=n: step_n(st, n, v, c, g), [chain, var, *guide], frame_out,
                api_name=f"ddpm_step{n}", show_progress="hidden")
    play_ev = play_b.click(play, [chain, var, every, *guide], frame_out, api_name="ddpm_play",
                           show_progress="hidden", concurrency_limit=4)
    pause_b.click(pause, chain, view, cancels=[play_ev], api_name=False, show_progress="hidden")
    jump_b.click(jump, [chain, target, var, *guide], frame_out, api_name="ddpm_jump", show_progress="hidden")
    r_go.click(guidance_row, [ds, cls, r_seed, r_S], [r_img, r_md], api_name="ddpm_guided_sample")

    fwd_in = [ds, index, upload, sch_name, t, eps_seed]
    fwd_out = [xt_img, e_img, f_md, strip, hist, sched, fwd_state]
    t.input(forward, fwd_in, fwd_out, api_name=False, show_progress="hidden", trigger_mode="always_last")
    for c in (ds, index, upload, sch_name, eps_seed):
        c.change(forward, fwd_in, fwd_out, api_name=False, show_progress="hidden")
    t.release(forward, fwd_in, fwd_out, api_name="ddpm_forward", show_progress="hidden")
    for b, n in ((q1, 1), (q10, 10)):
        b.click(lambda st, s, sd, n=n: q_steps(st, s, n, sd), [fwd_state, sch_name, eps_seed],
                [xt_img, f_md, fwd_state, t], api_name=False)
    p_go.click(partial, [ds, index, upload, t0, p_seed, *guide], [p0, pt, pout], api_name="ddpm_partial")
    c_go.click(ddpm_vs_ddim, [ds, c_seed, S, eta, *guide], [c_ddpm, c_ddim, c_md], api_name="ddpm_sample")
    g_go.click(samples, [ds, c_seed, S, eta, *guide], g_img, api_name="ddim_sample")
    demo.load(**reset_ev, api_name=False).then(forward, fwd_in, fwd_out, api_name=False).then(
        samples, [ds, c_seed, S, eta, *guide], g_img, api_name=False)
