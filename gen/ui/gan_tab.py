"""The GAN tab: seeds and D's verdicts, the seed grid, nudges, truncation, interpolation, training, the objective."""
from __future__ import annotations

import hashlib
import os
import random
import tempfile
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from gen import data, gan
from gen.images import grid as tile
from gen.ui.common import DATASETS, friendly, image, missing, model

N_GRID = 16  # the 4x4 grid: seeds s .. s+15
N_REAL = 8  # real test images shown beside D's verdicts
NUDGE = 5.0  # nudge sliders cover [-5, 5] along unit directions; a typical ||z|| is sqrt(64) = 8
GIF_DIR = Path(tempfile.gettempdir()) / "genlab-gan"


def _name(ds: str, kind: str = "") -> str:
    if ds not in DATASETS:
        raise gr.Error(f"Unknown dataset {ds!r}; choose one of {', '.join(DATASETS)}.")
    return f"gan-{kind}{DATASETS[ds]}" if kind != "D" else f"gan-{DATASETS[ds]}-D"


def _g(ds: str) -> gan.Generator:
    return model(_name(ds))


def _d(ds: str) -> gan.Discriminator:
    return model(_name(ds, "D"))


def _seed(value: float | None, what: str = "seed") -> tuple[int, str]:
    """Clamp a typed seed; an out-of-range one is shown with a warning, not refused."""
    try:
        s, note = gan.clamp_seed(value)
    except ValueError as e:
        raise gr.Error(str(e).replace("a seed", f"a {what}")) from e
    if note:
        gr.Warning(f"{what}: {note}")
    return s, note


def _verdict(d: float) -> str:
    return "D says **real**" if d >= 0.5 else "D says **fake**"


# --- the focused seed, the grid, nudges and truncation -----------------------------------------------------------

def sample(seed: float, ds: str, psi: float = 1.0, u1: float = 0.0, u2: float = 0.0,
           u3: float = 0.0) -> tuple[np.ndarray, str]:
    """The image for one seed (after truncation psi and nudges u1..u3) and D's verdict on it."""
    s, note = _seed(seed)
    G = _g(ds)
    v = gan.generate_with_d(G, _d(ds), gan.latents([s], G.z_dim, psi, (u1, u2, u3)))
    d = float(v.d[0])
    how = [f"ψ = {psi:.2f}"] if psi != 1 else []
    if any((u1, u2, u3)):
        how.append(f"nudged ({u1:+.1f}, {u2:+.1f}, {u3:+.1f})")
    text = (f"**D(G(z)) = {d:.2f}**: {_verdict(d)} · seed {s}{' · ' + ', '.join(how) if how else ''}"
            + (f"  \n⚠ {note}" if note else ""))
    return image(v.images[0], 336), text


def grid(start: float, ds: str, psi: float = 1.0) -> list[tuple[np.ndarray, str]]:
    """16 images for seeds start .. start+15 (seed s+i is exactly seed_to_z(s+i)), captioned with D(G(z))."""
    s, _ = _seed(start, "grid start")
    s = min(s, gan.SEED_MAX - N_GRID + 1)
    G = _g(ds)
    v = gan.generate_with_d(G, _d(ds), gan.latents(range(s, s + N_GRID), G.z_dim, psi))
    return [(image(im, 112), f"seed {s + i} · D={d:.2f}") for i, (im, d) in enumerate(zip(v.images, v.d))]


def follow(seed: float | None, start: float | None):
    """The grid stays while the focused seed is in it (clicks, prev/next), else it starts at the new seed."""
    try:
        s, _ = gan.clamp_seed(seed)
    except ValueError:
        return gr.skip()
    if start is not None and start <= s < start + N_GRID:
        return gr.skip()
    return min(s, gan.SEED_MAX - N_GRID + 1)


def move(seed: float | None, delta: int) -> int:
    try:
        s, _ = gan.clamp_seed(seed)
    except ValueError:
        s = 0
    return min(max(s + delta, 0), gan.SEED_MAX)


def focus(start: float, evt: gr.SelectData) -> int:
    return int(start) + int(evt.index)


def pick_real(index: float | None, evt: gr.SelectData) -> int:
    i = int(index or 0)
    return i - i % N_REAL + int(evt.index)


# --- what D sees, and the objective with live values --------------------------------------------------------------

def _real_index(index: float | None) -> int:
    if index is None:
        raise gr.Error("Type a test image number from 0 to 1999.")
    i = int(index)
    if not 0 <= i < 2000:
        gr.Warning(f"Test images are numbered 0 … 1999: using {min(max(i, 0), 1999)}.")
    return min(max(i, 0), 1999)


@lru_cache(maxsize=4)
def _mean_verdicts(ds: str) -> tuple[float, float]:
    return gan.mean_verdicts(_g(ds), _d(ds), data.test_sample(DATASETS[ds])[0])


def reals(ds: str, index: float) -> tuple[list[tuple[np.ndarray, str]], str]:
    """8 real test images around `index` with D(x), and D's average verdicts on real and generated images."""
    i = _real_index(index)
    x, y = data.test_sample(DATASETS[ds])
    base = i - i % N_REAL
    d = gan.judge_real(_d(ds), x[base:base + N_REAL])
    names = data.CLASSES[DATASETS[ds]]
    cells = [(image(x[base + k], 112), f"#{base + k} {names[y[base + k]]} · D={d[k]:.2f}") for k in range(N_REAL)]
    real, fake = _mean_verdicts(ds)
    md = (f"On average D(x) = **{real:.2f}** on the 2,000 test images and D(G(z)) = **{fake:.2f}** on 1,000 samples. "
          "At the game's equilibrium (p_g = p_r) D cannot tell them apart and says 0.5 for both.")
    return cells, md


def objective(seed: float, ds: str, psi: float, u1: float, u2: float, u3: float, index: float) -> str:
    """The lecture's objective with the live values for the focused sample and the chosen real image."""
    s, _ = gan.clamp_seed(seed) if seed is not None else (0, "")
    i = _real_index(index)
    G = _g(ds)
    x, y = data.test_sample(DATASETS[ds])
    t = gan.objective_terms(G, _d(ds), gan.latents([s], G.z_dim, psi, (u1, u2, u3)), x[i])
    ratio = t.slope_ns / max(abs(t.slope_minimax), 1e-9)
    return f"""#### min_G max_D V(D, G) = E_x~p_r[log D(x)] + E_z~p_z[log(1 − D(G(z)))]

| for the shown sample (seed {s}) and real test image #{i} ({data.CLASSES[DATASETS[ds]][y[i]]}) | value |
|---|---|
| D(G(z)): D's probability that the sample is real | **{t.d_fake:.3f}** |
| log(1 − D(G(z))): minimax, G descends this | {t.log_1m_d_fake:.3f} |
| log D(G(z)): non-saturating, G ascends this | {t.log_d_fake:.3f} |
| D(x) for the real image | **{t.d_real:.3f}** |
| log D(x) | {t.log_d_real:.3f} |
| log D(x) + log(1 − D(G(z))): this pair's term of V; D ascends it (max 0) | {t.value:.3f} |

Slope for G through D's logit: minimax −D(G(z)) = **{t.slope_minimax:.3f}**, non-saturating 1 − D(G(z)) = \
**{t.slope_ns:.3f}** ({ratio:.1f}× {'stronger' if ratio >= 1 else 'as strong'}). Where D rejects a fake \
(D(G(z)) ≈ 0), log(1 − D(G(z))) is flat and the minimax G learns nothing; log D(G(z)) has the same optimum and \
a steep slope there."""


ALGORITHM = """#### Algorithm 1 (Goodfellow et al. 2014), as these models were trained (k = 1, m = 128, Adam)
```text
for each training iteration:
    for k steps:                                   # the discriminator
        sample m noise vectors z_i ~ N(0, I) and m real images x_i
        ascend  ∇θd 1/m Σ [ log D(x_i) + log(1 − D(G(z_i))) ]
    sample m noise vectors z_i                     # the generator
    descend ∇θg 1/m Σ log(1 − D(G(z_i)))           # minimax      (gan-minimax-*)
    in practice: ascend ∇θg 1/m Σ log D(G(z_i))    # non-saturating (gan-*)
```"""


# --- interpolation --------------------------------------------------------------------------------------------------

def _gif(frames: np.ndarray, key: str) -> str:
    """An animated GIF of the frames, there and back, under a name fixed by `key` (written atomically)."""
    GIF_DIR.mkdir(exist_ok=True)
    path = GIF_DIR / f"walk-{hashlib.sha1(key.encode()).hexdigest()[:16]}.gif"
    if not path.exists():
        seq = [Image.fromarray(image(f, 224)) for f in np.concatenate([frames, frames[-2:0:-1]])]
        tmp = path.with_suffix(f".{os.getpid()}.{random.randrange(1 << 30)}.tmp")
        seq[0].save(tmp, format="GIF", save_all=True, append_images=seq[1:], duration=90, loop=0)
        os.replace(tmp, path)
    return str(path)


@friendly
def interpolate(seed_a: float, seed_b: float, ds: str, steps: float = 10, method: str = "linear",
                psi: float = 1.0) -> tuple[np.ndarray, str, str]:
    """The path from seed A's z to seed B's z as a strip, an animation and D's verdicts along it."""
    a, _ = _seed(seed_a, "seed A")
    b, _ = _seed(seed_b, "seed B")
    n = int(steps)
    G, D = _g(ds), _d(ds)
    z0, z1 = (gan.latents([s], G.z_dim, psi)[0] for s in (a, b))
    w = gan.walk(G, D, z0, z1, n, method)
    frames = gan.walk(G, D, z0, z1, 32, method).images
    gif = _gif(frames, f"{ds}|{a}|{b}|{method}|{psi:.3f}")
    md = (f"**D(G(z)) along the path:** {' '.join(f'{d:.2f}' for d in w.d)}  \n"
          f"**‖z‖ along the path:** {' '.join(f'{r:.1f}' for r in w.norms)}  \n"
          f"A 64-D z ~ N(0, I) has ‖z‖ ≈ √64 = 8. The straight line cuts through the middle, where ‖z‖ is "
          f"atypically small; the great circle (spherical) keeps ‖z‖ near 8, where G was trained.")
    return image(tile(w.images, n, pad=1), 96 * n), gif, md


# --- training progress, mode collapse, minimax vs non-saturating ------------------------------------------------------

SERIES = {"d_loss": "D loss", "g_loss": "G loss", "D_x": "D(x)", "D_G_z": "D(G(z))"}
COLORS = {"D loss": "#d62728", "G loss": "#1f77b4", "D(x)": "#2ca02c", "D(G(z))": "#ff7f0e"}


def _curves(name: str) -> pd.DataFrame:
    hist = gan.training_info(name).get("history", [])
    rows = [{"epoch": h["epoch"], "value": h[k], "series": label} for h in hist for k, label in SERIES.items()]
    return pd.DataFrame(rows, columns=["epoch", "value", "series"])


def _snapshot(name: str, epoch: int) -> tuple[np.ndarray | None, int | None]:
    """The shipped snapshot at `epoch`, or the latest one before it (runs kept different epochs)."""
    snaps = gan.snapshots(name)
    kept = [e for e in snaps if e <= epoch] or list(snaps)[:1]
    if not kept:
        return None, None
    e = kept[-1]
    return image(np.asarray(Image.open(snaps[e]).convert("L")), 484), e


def _snapshots(ds: str, epoch: int) -> list[tuple[np.ndarray | None, str]]:
    """The fixed-z sample grids at one epoch, (image, label): the non-saturating run and the minimax run."""
    out = []
    for kind, label in (("", "non-saturating"), ("minimax-", "minimax")):
        img, e = _snapshot(_name(ds, kind), int(epoch))
        out.append((img, f"{label}: epoch {e}" if e else f"{label}: no snapshots shipped"))
    return out


def snapshot(ds: str, epoch: str | None):
    if not epoch:
        return gr.skip(), gr.skip()
    return tuple(gr.Image(img, label=label) for img, label in _snapshots(ds, int(epoch)))


@lru_cache(maxsize=4)
def _histograms(ds: str) -> pd.DataFrame:
    clf = model(f"classifier-{DATASETS[ds]}")
    rows = []
    for kind, label in (("", "non-saturating"), ("minimax-", "minimax")):
        h = gan.class_histogram(model(_name(ds, kind)), clf, 1000)
        rows += [{"class": c, "fraction": float(f), "loss": label} for c, f in zip(data.CLASSES[DATASETS[ds]], h)]
    return pd.DataFrame(rows)


def _compare_md(ds: str, hist: pd.DataFrame) -> str:
    ns, mm = _name(ds), _name(ds, "minimax-")
    m_ns, m_mm = gan.metrics(ns), gan.metrics(mm)
    last = [(gan.training_info(n).get("history") or [{}])[-1] for n in (ns, mm)]

    def f(m: dict, k: str, fmt: str = "{:.1f}") -> str:
        return fmt.format(m[k]) if k in m else "n/a"

    low = [hist[hist["loss"] == lab].sort_values("fraction").iloc[0] for lab in ("non-saturating", "minimax")]
    return f"""#### Non-saturating vs minimax generator loss (same architecture, data and Algorithm 1)

| | non-saturating `{ns}` | minimax `{mm}` |
|---|---|---|
| FID ↓ (5,000 samples; real vs real: {f(m_ns, 'fid_real_vs_real')}) | **{f(m_ns, 'fid')}** | **{f(m_mm, 'fid')}** |
| smallest class share of 1,000 samples | {low[0]['fraction']:.1%} ({low[0]['class']}) | \
{low[1]['fraction']:.1%} ({low[1]['class']}) |
| last epoch D(x) / D(G(z)) in training | {last[0].get('D_x', 'n/a')} / {last[0].get('D_G_z', 'n/a')} | \
{last[1].get('D_x', 'n/a')} / {last[1].get('D_G_z', 'n/a')} |

If D(G(z)) in the minimax curves drops to 0 early, D rejects every fake with certainty, log(1 − D(G(z))) is flat \
there and G stops learning: its samples stay noise (the classifier's "classes" for them are meaningless).

**Mode collapse** would look like this: different seeds in the grid giving the same few images, the 64 snapshot \
samples turning into copies of each other, and the class histogram below piling onto one or two classes with others \
near 0 %. A healthy generator covers all ten classes near 10 % each."""


def _epochs(ds: str) -> list[str]:
    return [str(e) for e in gan.snapshots(_name(ds))]


def training(ds: str):
    """Everything of the training section for one dataset."""
    epochs = _epochs(ds)
    snaps = snapshot(ds, epochs[-1]) if epochs else (gr.Image(None), gr.Image(None))
    hist = _histograms(ds)
    return (gr.Radio(epochs, value=epochs[-1] if epochs else None), *snaps, _curves(_name(ds)),
            _curves(_name(ds, "minimax-")), _compare_md(ds, hist), hist)


INTRO = """### Generative Adversarial Network
G maps noise **z ~ N(0, I)** (64-D, one z per seed) to an image; D(x) is D's probability that x came from the data."""


def _initial(fn, *args):
    """A component's first value, or None when a model is missing (the banner says which)."""
    try:
        return fn(*args)
    except (gr.Error, OSError, KeyError, IndexError):
        return None


def build(demo: gr.Blocks) -> None:
    """The tab's components and events; first values are computed here, so the tab shows up filled in."""
    gr.Markdown(missing(["gan-mnist", "gan-mnist-D", "gan-fashion", "gan-fashion-D", "gan-minimax-mnist",
                         "gan-minimax-fashion", "classifier-mnist", "classifier-fashion"]), elem_classes="banner")
    first = _initial(sample, 42, "MNIST") or (None, "")
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            gr.Markdown(INTRO)
            ds = gr.Radio(list(DATASETS), value="MNIST", label="Dataset")
            with gr.Row(equal_height=True):
                seed = gr.Number(42, label="seed", precision=0, min_width=110, scale=3, elem_id="gan-seed")
                prev = gr.Button("◀", min_width=44, scale=1, elem_id="gan-prev")
                nxt = gr.Button("▶", min_width=44, scale=1, elem_id="gan-next")
                rnd = gr.Button("🎲", min_width=44, scale=1, elem_id="gan-random")
            psi = gr.Slider(0, 1.5, 1.0, step=0.05, label="truncation ψ: z → ψ·z (1 = none)", elem_id="gan-psi")
        with gr.Column(scale=3, min_width=340):
            img = gr.Image(first[0], label="G(z)", format="png", height=336, elem_id="gan-image",
                           elem_classes="crisp", interactive=False)
            dtext = gr.Markdown(first[1], elem_classes="numbers", elem_id="gan-d")
        with gr.Column(scale=4, min_width=360):
            gallery = gr.Gallery(_initial(grid, 42, "MNIST"), label="seeds s … s+15 with D(G(z)) (click to focus)",
                                 columns=4, height=470, allow_preview=False, format="png", elem_id="gan-grid",
                                 elem_classes="crisp", object_fit="contain")
            start = gr.Number(42, precision=0, visible=False)

    with gr.Accordion("Nudge the focused seed along 3 fixed random directions in z-space", open=True):
        with gr.Row():
            u = [gr.Slider(-NUDGE, NUDGE, 0, step=0.1, label=f"a{i}: z + a{i}·u{i}", elem_id=f"gan-nudge{i}")
                 for i in (1, 2, 3)]
            reset = gr.Button("reset nudges", min_width=120, scale=0)

    with gr.Accordion("What D sees: real test images, and the minimax objective with live values", open=True):
        with gr.Row():
            with gr.Column(scale=1, min_width=360):
                real_gallery, real_md = _initial(reals, "MNIST", 0) or (None, "")
                rgal = gr.Gallery(real_gallery, label="real test images with D(x) (click to use below)", columns=4,
                                  height=300, allow_preview=False, format="png", elem_classes="crisp",
                                  elem_id="gan-real")
                with gr.Row():
                    ridx = gr.Number(0, label="real test image # (0 … 1999)", precision=0, elem_id="gan-real-index")
                    more = gr.Button("next 8 real images", scale=0, min_width=160)
                rmd = gr.Markdown(real_md)
            with gr.Column(scale=1, min_width=400):
                obj = gr.Markdown(_initial(objective, 42, "MNIST", 1.0, 0, 0, 0, 0) or "", elem_id="gan-objective")
        gr.Markdown(ALGORITHM)

    with gr.Accordion("Interpolation between two seeds", open=True):
        with gr.Row():
            sa = gr.Number(42, label="seed A", precision=0)
            sb = gr.Number(43, label="seed B", precision=0)
            steps = gr.Slider(2, 16, 10, step=1, label="steps")
            method = gr.Radio(["linear", "spherical"], value="spherical", label="path")
        walk0 = _initial(interpolate, 42, 43, "MNIST", 10, "spherical") or (None, None, "")
        strip = gr.Image(walk0[0], label="strip: G(z) from A to B", format="png", elem_classes="crisp",
                         interactive=False, elem_id="gan-strip")
        with gr.Row():
            anim = gr.Image(walk0[1], label="animation (A → B → A)", height=224, interactive=False,
                            elem_classes="crisp", elem_id="gan-anim", scale=1)
            walk_md = gr.Markdown(walk0[2])

    with gr.Accordion("Training: snapshots by epoch, loss curves, mode collapse, minimax vs non-saturating", open=True):
        epochs = _initial(_epochs, "MNIST") or []
        epoch = gr.Radio(epochs, value=epochs[-1] if epochs else None, label="snapshot epoch (64 fixed z, seed 1234)",
                         elem_id="gan-epoch")
        pair = (_initial(_snapshots, "MNIST", int(epochs[-1])) if epochs else None) or [(None, "non-saturating"),
                                                                                          (None, "minimax")]
        with gr.Row():
            ns_snap, mm_snap = (gr.Image(im, label=label, format="png", elem_classes="crisp", interactive=False,
                                         elem_id=eid) for (im, label), eid in zip(pair, ("gan-snap", "gan-snap-mm")))
        with gr.Row():
            ns_plot = gr.LinePlot(_initial(_curves, "gan-mnist"), x="epoch", y="value", color="series",
                                  color_map=COLORS, height=300, title="non-saturating run (training.json)",
                                  elem_id="gan-curves")
            mm_plot = gr.LinePlot(_initial(_curves, "gan-minimax-mnist"), x="epoch", y="value", color="series",
                                  color_map=COLORS, height=300, title="minimax run (training.json)",
                                  elem_id="gan-curves-mm")
        hist0 = _initial(_histograms, "MNIST")
        cmp = gr.Markdown(_initial(_compare_md, "MNIST", hist0) if hist0 is not None else "", elem_id="gan-compare")
        hist = gr.BarPlot(hist0, x="class", y="fraction", color="loss", height=300, y_lim=[0, 1], sort=None,
                          title="class histogram of 1,000 samples (by the dataset's classifier)", elem_id="gan-hist")

    # The focused seed: every change (typing, ◀ ▶ 🎲, a grid click) redraws the image and the live objective.
    live = dict(show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)
    focused = [seed, ds, psi, *u]
    seed.change(sample, focused, [img, dtext], api_name="gan_sample", **live).then(
        objective, [*focused, ridx], obj, api_name=False, **live)
    seed.change(follow, [seed, start], start, api_name=False, **live)
    start.change(grid, [start, ds, psi], gallery, api_name="gan_grid", **live)
    gallery.select(focus, start, seed, api_name=False)
    prev.click(lambda s: move(s, -1), seed, seed, api_name=False)
    nxt.click(lambda s: move(s, 1), seed, seed, api_name=False)
    rnd.click(lambda: random.randrange(100_000), None, seed, api_name=False)

    def redraw(*args):
        return (*sample(*args[:-1]), objective(*args))

    for c in (*u, psi):
        c.input(redraw, [*focused, ridx], [img, dtext, obj], api_name=False, **live)
    psi.input(grid, [start, ds, psi], gallery, api_name=False, **live)
    reset.click(lambda: (0.0, 0.0, 0.0), None, u, api_name=False).then(
        redraw, [*focused, ridx], [img, dtext, obj], api_name=False)

    ridx.change(reals, [ds, ridx], [rgal, rmd], api_name=False, show_progress="hidden").then(
        objective, [*focused, ridx], obj, api_name=False)
    rgal.select(pick_real, ridx, ridx, api_name=False)
    more.click(lambda i: (int(i or 0) - int(i or 0) % N_REAL + N_REAL) % 2000, ridx, ridx, api_name=False)

    inter = [sa, sb, ds, steps, method, psi]
    for c in (sa, sb, steps, method):
        c.change(interpolate, inter, [strip, anim, walk_md], api_name="gan_interpolate" if c is sa else False,
                 show_progress="hidden", trigger_mode="always_last")
    psi.release(interpolate, inter, [strip, anim, walk_md], api_name=False, show_progress="hidden")

    epoch.change(snapshot, [ds, epoch], [ns_snap, mm_snap], api_name=False, show_progress="hidden")
    ds.change(redraw, [*focused, ridx], [img, dtext, obj], api_name=False)
    ds.change(grid, [start, ds, psi], gallery, api_name=False)
    ds.change(reals, [ds, ridx], [rgal, rmd], api_name=False)
    ds.change(interpolate, inter, [strip, anim, walk_md], api_name=False)
    ds.change(training, ds, [epoch, ns_snap, mm_snap, ns_plot, mm_plot, cmp, hist], api_name="gan_training")
