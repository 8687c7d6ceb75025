"""The GAN tab: seeds and D's verdicts, the seed grid, nudges, truncation, interpolation, training, the objective."""
from __future__ import annotations

import hashlib
import os
import random
import tempfile
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image

from gen import data, gan
from gen.images import grid as tile
from gen.ui import charts, links
from gen.ui.common import DATASET, DATASETS, FAST, LAST_TEST, friendly, image, missing, model

N_GRID = 16  # the 4x4 grid: seeds s .. s+15
N_REAL = 8  # real test images shown beside D's verdicts
N_HIST = 1000  # live samples behind the class-share charts (the cards count 5,000)
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
    if seed is None:  # an emptied box while typing: say what is expected, keep the image
        return gr.skip(), f"Type a seed: a whole number from 0 to {gan.SEED_MAX}."
    s, note = _seed(seed)
    G = _g(ds)
    v = gan.generate_with_d(G, _d(ds), gan.latents([s], G.z_dim, psi, (u1, u2, u3)))
    d = float(v.d[0])
    how = [f"ψ = {psi:.2f}"] if psi != 1 else []
    if any((u1, u2, u3)):
        how.append(f"nudged ({u1:+.1f}, {u2:+.1f}, {u3:+.1f})")
    text = (f"**D(G(z)) = {d:.2f}**: {_verdict(d)}  \nseed {s}{' · ' + ', '.join(how) if how else ''}"
            + (f"  \n⚠ {note}" if note else ""))
    return image(v.images[0], 336), text


def grid(start: float, ds: str, psi: float = 1.0) -> tuple[list[tuple[np.ndarray, str]], str]:
    """16 images for seeds start .. start+15 (seed s+i is exactly seed_to_z(s+i)) captioned D(G(z)); a title."""
    s, _ = _seed(start, "grid start")
    s = min(s, gan.SEED_MAX - N_GRID + 1)
    G = _g(ds)
    v = gan.generate_with_d(G, _d(ds), gan.latents(range(s, s + N_GRID), G.z_dim, psi))
    label = (f"**seeds {s} … {s + N_GRID - 1}**{f' at ψ = {psi:.2f}' if psi != 1 else ''} · caption D(G(z)), "
             f"mean {v.d.mean():.2f} · click to focus")
    return [(image(im, 112), f"D={d:.2f}") for im, d in zip(v.images, v.d)], label


def follow(seed: float | None, start: float | None, ds: str, psi: float, u1: float, u2: float, u3: float,
           index: float):
    """After a typed seed's image: the box (an out-of-range seed is written back clamped, so the box shows the seed
    on screen), the grid (it stays while the seed is in it) and the live objective, in one event."""
    try:
        s, note = gan.clamp_seed(seed)
    except ValueError:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return (s if note else gr.skip(), *_grid_view(s, start), objective(s, ds, psi, u1, u2, u3, index))


def _grid_view(s: int, start: float | None) -> tuple:
    """The grid's start (unchanged: skipped, so its images are not redrawn) and its selection, for seed s."""
    new = _grid_start(s, start)
    return new if new != start else gr.skip(), gr.Gallery(selected_index=s - new)


def _grid_start(s: int, start: float | None) -> int:
    """Where the grid starts: where it is while seed s is in it, else at s."""
    if start is not None and start <= s < start + N_GRID:
        return int(start)
    return min(s, gan.SEED_MAX - N_GRID + 1)


def view(s: int, start: float | None, ds: str, psi: float, u1: float, u2: float, u3: float, index: float):
    """All that the focused seed s shows, in one round trip: s, the grid, its image, D's verdict and the objective.
    One event, not a chain: each chained event costs a visitor another round trip through Gradio's frontend (▶ as a
    chain of three: median 278 ms, 502 clicked fast; as one event 236 and 247, bench/browser.py)."""
    return (s, *_grid_view(s, start), *redraw(s, ds, psi, u1, u2, u3, index))


def focus(start: float, ds: str, psi: float, u1: float, u2: float, u3: float, index: float, evt: gr.SelectData):
    """A grid click: that cell's seed."""
    return view(int(start) + int(evt.index), start, ds, psi, u1, u2, u3, index)


def step_seed(delta: int | None):
    """◀ (-1), ▶ (+1) or random (None): the new seed."""
    def handler(seed: float | None, start: float | None, ds: str, psi: float, u1: float, u2: float, u3: float,
                index: float):
        s = random.randrange(100_000) if delta is None else min(max(int(seed or 0) + delta, 0), gan.SEED_MAX)
        return view(s, start, ds, psi, u1, u2, u3, index)
    return handler


def pick_real(index: float | None, evt: gr.SelectData) -> int:
    i = int(index or 0)
    return i - i % N_REAL + int(evt.index)


# --- what D sees, and the objective with live values --------------------------------------------------------------

def _real_index(ds: str, index: float) -> int:
    i = data.test_index(DATASETS[ds], index)
    if i != int(index):
        gr.Warning(f"Test images are numbered 0 … {data.test_count(DATASETS[ds]) - 1}: using {i}.")
    return i


@lru_cache(maxsize=4)
def _mean_verdicts(ds: str) -> tuple[float, float]:
    return gan.mean_verdicts(_g(ds), _d(ds), data.test_sample(DATASETS[ds])[0])


def reals(ds: str, index: float):
    """8 real test images around `index` (that one highlighted) with D(x), and D's average verdicts."""
    if index is None:
        return gr.skip(), f"Type a test image number from 0 to {LAST_TEST}.", gr.skip()
    i = _real_index(ds, index)
    cells, md = _reals(ds, i)
    return gr.Gallery(cells, selected_index=i % N_REAL), md, i if i != index else gr.skip()


def _reals(ds: str, i: int) -> tuple[list[tuple[np.ndarray, str]], str]:
    x, _ = data.test_sample(DATASETS[ds])
    base = i - i % N_REAL
    d = gan.judge_real(_d(ds), x[base:base + N_REAL])
    cells = [(image(x[base + k], 112), f"D={d[k]:.2f}") for k in range(N_REAL)]
    real, fake = _mean_verdicts(ds)
    md = (f"Shown: test images #{base} … #{base + N_REAL - 1}. On average D(x) = **{real:.2f}** on the {len(x):,} "
          f"test images and D(G(z)) = **{fake:.2f}** on 1,000 samples. "
          "At the game's equilibrium (p_g = p_r) D cannot tell them apart and says 0.5 for both.")
    return cells, md


def objective(seed: float, ds: str, psi: float, u1: float, u2: float, u3: float, index: float) -> str:
    """The lecture's objective with the live values for the focused sample and the chosen real image."""
    if seed is None or index is None:  # a box emptied while typing
        return gr.skip()
    s, _ = gan.clamp_seed(seed)
    i = _real_index(ds, index)
    G = _g(ds)
    x, y = data.test_sample(DATASETS[ds])
    t = gan.objective_terms(G, _d(ds), gan.latents([s], G.z_dim, psi, (u1, u2, u3)), x[i])
    ratio = t.slope_ns / max(abs(t.slope_minimax), 1e-9)
    if ratio >= 1:
        slope = f"the non-saturating slope is **{ratio:.0f}×** the minimax one for this sample."
    else:
        slope = "this sample fools D (D(G(z)) > 0.5), so here the minimax slope is the larger one."
    return f"""**min_G max_D V(D, G) = E_x∼p_r [log D(x)] + E_z∼p_z [log(1 − D(G(z)))]**

Live, for the focused sample (seed {s}) and real test image #{i} ({data.CLASSES[DATASETS[ds]][y[i]]}):

| term | value | role |
|---|---:|---|
| D(G(z)) | **{t.d_fake:.2f}** | P(sample is real) |
| log(1 − D(G(z))) | {t.log_1m_d_fake:.2f} | minimax G descends |
| log D(G(z)) | {t.log_d_fake:.2f} | non-sat. G ascends |
| D(x) | **{t.d_real:.2f}** | P(real image is real) |
| log D(x) | {t.log_d_real:.2f} | |
| log D(x) + log(1 − D(G(z))) | {t.value:.2f} | D ascends (max 0) |

Slope for G through D's logit: minimax −D(G(z)) = **{t.slope_minimax:.3f}**, non-saturating 1 − D(G(z)) = \
**{t.slope_ns:.3f}**: {slope} Where D rejects a fake (D(G(z)) ≈ 0) log(1 − D(G(z))) is flat and the minimax G \
learns nothing; log D(G(z)) has the same optimum and a steep slope there."""


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


# --- the class-conditional GAN: G(z, y), the style-vs-class grid, D(x, y) with the right and a wrong label ----------

N_STYLE = 5  # rows of the style-vs-class grid: seeds s .. s+4

COND_INTRO = """**Conditional GAN** (Mirza & Osindero 2014): both players see the class y. G(z, y) gets a learned \
embedding of y next to z; D is a **projection discriminator** (Miyato & Koyama 2018), \
logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩: the usual "is x real?" plus "does x look like a y?". So z is left to carry the \
style (thickness, slant, shape) and y the class: in the grid each row keeps one z and each column one y. Trained with \
the **hinge loss** (D descends E[max(0, 1 − D(x, y))] + E[max(0, 1 + D(G(z, y), y))], G descends −E[D(G(z, y), y)]), \
two learning rates (D's twice G's), an exponential moving average of G's weights, and a **matching-aware** D (Reed et \
al. 2016): a real image with a wrong label counted as a fake, so D judges the pair (x, y), not x alone."""


def _cg(ds: str) -> gan.Generator:
    return model("c" + _name(ds))  # cgan-mnist


def _cd(ds: str) -> gan.Discriminator:
    return model("c" + _name(ds, "D"))  # cgan-mnist-D


def _classes(ds: str) -> list[tuple[str, int]]:
    return [(c, i) for i, c in enumerate(data.CLASSES[DATASETS[ds]])]


@friendly
def cond_sample(seed: float, cls: float, ds: str) -> tuple[np.ndarray, str]:
    """G(z, y) for one seed (z) and class (y), and D's verdict D(G(z, y), y)."""
    if seed is None:
        return gr.skip(), f"Type a seed: a whole number from 0 to {gan.SEED_MAX}."
    s, _ = _seed(seed)
    y = gan.check_class(cls)
    G = _cg(ds)
    v = gan.generate_with_d(G, _cd(ds), gan.latents([s], G.z_dim), [y])
    d = float(v.d[0])
    return image(v.images[0], 224), (f"**G(z, y = {data.CLASSES[DATASETS[ds]][y]})**, seed {s}  \n"
                                     f"D(G(z, y), y) = **{d:.2f}**: {_verdict(d)}")


@friendly
def cond_grid(seed: float, ds: str, cls: float | None = None) -> tuple[np.ndarray, str]:
    """The style-vs-class grid: rows are seeds s .. s+4 (one z each), columns classes 0..9; the picked class framed."""
    if seed is None:
        return gr.skip(), gr.skip()
    s, _ = _seed(seed)
    s = min(s, gan.SEED_MAX - N_STYLE + 1)
    cells = gan.style_class_grid(_cg(ds), range(s, s + N_STYLE))
    t = tile(cells.reshape(-1, 28, 28), 10, pad=2)
    if cls is not None:  # frame the picked class's column in white
        c = 30 * gan.check_class(cls)
        t[:, c:c + 2] = t[:, c + 30:c + 32] = 255
        t[:2, c:c + 32] = t[-2:, c:c + 32] = 255
    names = " · ".join(data.CLASSES[DATASETS[ds]])
    how = gan.recipe(gan.training_info("c" + _name(ds)))
    return image(t, 3 * max(t.shape)), (f"rows: seeds {s} … {s + N_STYLE - 1} (one z per row) · columns: {names}"
                                      + (f"  \n*G(z, y) was trained with* {how}." if how else ""))


@friendly
def cond_judge(index: float, wrong: float, ds: str) -> tuple[np.ndarray, str]:
    """A real test image and D(x, y) with its own label and with a wrong one (and with every label)."""
    if index is None:
        return gr.skip(), f"Type a test image number from 0 to {LAST_TEST}."
    i, w = _real_index(ds, index), gan.check_class(wrong)
    x, labels = data.test_sample(DATASETS[ds])
    right, names = int(labels[i]), data.CLASSES[DATASETS[ds]]
    d = gan.judge_labels(_cd(ds), x[i])
    same = ""
    if w == right:  # e.g. after switching datasets: show the wrong label D believes most instead
        w = int(np.argmax(np.where(np.arange(10) == right, -1, d)))
        same = f"\n\n{names[right]} is this image's own label: shown instead, the wrong label D believes most."
    return image(x[i], 224), f"""Real test image #{i}, a **{names[right]}**.

| label y | D(x, y) | |
|---|---:|---|
| {names[right]} (right) | **{d[right]:.2f}** | {_verdict(d[right])} |
| {names[w]} (wrong) | **{d[w]:.2f}** | {_verdict(d[w])} |

D(x, y) for every label: {" · ".join(f"{n} {v:.2f}" for n, v in zip(names, d))}{same}"""


# --- training progress, mode collapse, minimax vs non-saturating ------------------------------------------------------

SERIES = {"d_loss": "D loss", "g_loss": "G loss", "D_x": "D(x)", "D_G_z": "D(G(z))"}
COLORS = {"D loss": "#d62728", "G loss": "#1f77b4", "D(x)": "#2ca02c", "D(G(z))": "#ff7f0e"}


def _curves(name: str, title: str) -> str:
    """The per-epoch losses and D outputs of a run (its training.json history), as a chart."""
    hist = gan.training_info(name).get("history", [])
    return charts.lines({label: [(h["epoch"], h[k]) for h in hist] for k, label in SERIES.items()},
                        f"{title} run: training.json history", "epoch", colors=COLORS)


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
def _histogram(ds: str, kind: str) -> dict[str, float]:
    """Class fractions of 1,000 samples of the non-saturating (kind '') or minimax (kind 'minimax-') generator."""
    h = gan.class_histogram(model(_name(ds, kind)), model(f"classifier-{DATASETS[ds]}"), N_HIST)
    return {c: float(f) for c, f in zip(data.CLASSES[DATASETS[ds]], h)}


def _histograms(ds: str) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """Both runs' histograms; a missing model leaves its chart empty (the tab's banner says which)."""
    return _initial(_histogram, ds, ""), _initial(_histogram, ds, "minimax-")


def _compare_md(ds: str, hists: tuple[dict[str, float] | None, dict[str, float] | None]) -> str:
    ns, mm = _name(ds), _name(ds, "minimax-")
    m_ns, m_mm = gan.metrics(ns), gan.metrics(mm)
    runs = [gan.training_info(n).get("history") or [] for n in (ns, mm)]
    last = [f"{h[-1]['D_x']:.2f} / {h[-1]['D_G_z']:.2f} (epoch {h[-1]['epoch']})" if h else "n/a" for h in runs]
    stall = gan.stalled_at(runs[1])
    if not runs[1]:
        story = f"The minimax run (`{mm}`) is not available here, so only the non-saturating side is shown."
    elif stall is not None:
        story = (f"**Here the minimax run stalled:** from epoch {stall} on, D(G(z)) stayed below 0.01 (curves above). "
                 "D rejects every fake with certainty, log(1 − D(G(z))) is flat there, G's gradient vanishes and its "
                 "samples stay noise (the classifier's \"classes\" for noise mean nothing). The non-saturating loss "
                 "log D(G(z)) is steepest exactly there, so the same G learns.")
    else:
        story = ("Here both runs learned; the minimax G still got weaker gradients whenever D rejected its samples "
                 "(slope −D(G(z)) ≈ 0), which the non-saturating loss log D(G(z)) avoids (slope 1 − D(G(z)) ≈ 1). "
                 "When D wins early, a minimax run can stall for good (try the other dataset).")

    def f(m: dict, k: str, fmt: str = "{:.1f}") -> str:
        return fmt.format(m[k]) if k in m else "n/a"

    def low(m: dict, h: dict[str, float] | None) -> str:
        """The rarest class: the card's 5,000 samples (as the FID row), else the 1,000 of the charts below."""
        n, h = (m["n_samples"], m["class_histogram"]) if "class_histogram" in m else (N_HIST, h)
        if not h:
            return "n/a"
        c = min(h, key=h.get)
        return f"{h[c]:.1%} ({c}; {n:,} samples)"

    info = [gan.training_info(n) for n in (ns, mm)]
    loss = info[0].get("loss", "non-saturating")
    how = "  \n".join(f"**How `{n}` was trained:** {gan.recipe(i)}." for n, i in zip((ns, mm), info) if i)
    return f"""#### {loss.capitalize()} vs minimax generator loss (same architecture and data, Algorithm 1)

| | {loss} `{ns}` | minimax `{mm}` |
|---|---|---|
| FID ↓ (5,000 samples; real vs real: {f(m_ns, 'fid_real_vs_real')}) | **{f(m_ns, 'fid')}** | **{f(m_mm, 'fid')}** |
| smallest class share | {low(m_ns, hists[0])} | {low(m_mm, hists[1])} |
| D(x) / D(G(z)) at the last training epoch | {last[0]} | {last[1]} |

{how}

{story}

**Mode collapse** would look like this: different seeds in the grid giving the same few images, the 64 snapshot \
samples turning into copies of each other, and the class histogram below piling onto one or two classes with others \
near 0 %. A healthy generator covers all ten classes near 10 % each. The check: {N_HIST:,} samples classified by a \
separately trained classifier (`classifier-{DATASETS[ds]}`)."""


def _epochs(ds: str) -> list[str]:
    return [str(e) for e in gan.snapshots(_name(ds))]


def training(ds: str):
    """Everything of the training section for one dataset."""
    epochs = _epochs(ds)
    snaps = snapshot(ds, epochs[-1]) if epochs else (gr.Image(None), gr.Image(None))
    hists = _histograms(ds)
    charts_ = [charts.bars(h, f"{title}: classes of {N_HIST:,} samples", "class") if h else charts.empty(title)
               for h, title in zip(hists, ("non-saturating", "minimax"))]
    return (gr.Radio(epochs, value=epochs[-1] if epochs else None), *snaps, _curves(_name(ds), "non-saturating"),
            _curves(_name(ds, "minimax-"), "minimax"), _compare_md(ds, hists), *charts_)


INTRO = f"""**Generative adversarial network.** G maps noise **z ∼ N(0, I)** (64-D; a seed 0 … {gan.SEED_MAX} names \
one z, the same on every machine) to an image; the discriminator's **D(x)** is its probability that x came from the \
data rather than from G. Both were trained against each other (Algorithm 1 below). Nudges move the focused z to \
ψ·z + a1·u1 + a2·u2 + a3·u3 along three fixed random unit directions u1, u2, u3. Truncation ψ < 1 pulls z toward the \
prior's centre: less variety, fewer odd samples (watch the grid and its mean D); at ψ = 0 every seed gives the same \
image G(0)."""


def _initial(fn, *args):
    """A value that needs a model, or None when it is missing (the tab's banner says which)."""
    try:
        return fn(*args)
    except (gr.Error, OSError, KeyError, IndexError):
        return None


def grid_at(seed: float | None, start: float | None, ds: str, psi: float = 1.0):
    """The grid around the focused seed (it stays where it is while the seed is in it): its start, cells, title."""
    s, _ = gan.clamp_seed(SEED if seed is None else seed)
    start = _grid_start(s, start)
    cells, label = grid(start, ds, psi)
    return start, gr.Gallery(cells, selected_index=s - start), label


def classes(ds: str):
    """Both class pickers relabelled for a dataset (the values 0..9 stay)."""
    return gr.Radio(_classes(ds)), gr.Radio(_classes(ds))


def redraw(seed: float, ds: str, psi: float, u1: float, u2: float, u3: float, index: float):
    """The focused sample and the live objective, after a nudge, ψ or the dataset changed."""
    return (*sample(seed, ds, psi, u1, u2, u3), objective(seed, ds, psi, u1, u2, u3, index))


# --- layout: one helper a section, each returns its components --------------------------------------------------

MODELS = ["gan-mnist", "gan-mnist-D", "gan-fashion", "gan-fashion-D", "gan-minimax-mnist", "gan-minimax-fashion",
          "cgan-mnist", "cgan-mnist-D", "cgan-fashion", "cgan-fashion-D", "classifier-mnist", "classifier-fashion"]
# The first values of the tab's controls, said once (the URL of a lecture link may set others).
SEED, SEED_B, REAL, CLASS, WRONG, STEPS, PATH = 42, 43, 0, 7, 1, 10, "spherical"
TEST = f"real test image # (0 … {LAST_TEST})"


def _focused(v: SimpleNamespace) -> None:
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            v.ds = gr.Radio(list(DATASETS), value=DATASET, label="Dataset", elem_id="gan-dataset")
            with gr.Row(equal_height=True):
                v.seed = gr.Number(SEED, label="seed", precision=0, min_width=90, scale=2, elem_id="gan-seed")
                v.prev = gr.Button("◀", size="md", min_width=48, scale=1, elem_id="gan-prev")
                v.next = gr.Button("▶", size="md", min_width=48, scale=1, elem_id="gan-next")
                v.rnd = gr.Button("random", size="md", min_width=96, scale=2, elem_id="gan-random")
            with gr.Group():
                v.u = [gr.Slider(-NUDGE, NUDGE, 0, step=0.1, label=f"nudge: a{i} along u{i}", elem_id=f"gan-nudge{i}")
                       for i in (1, 2, 3)]
            v.reset = gr.Button("reset nudges", size="sm", elem_id="gan-reset")
        with gr.Column(scale=3, min_width=340):
            v.img = gr.Image(label="G(z) for the focused seed", format="png", height=336, elem_id="gan-image",
                             elem_classes="crisp", interactive=False)
            v.dtext = gr.Markdown(elem_classes="numbers", elem_id="gan-d")
            v.psi = gr.Slider(0, 1.5, 1.0, step=0.05, label="truncation ψ: z → ψ·z", elem_id="gan-psi")
        with gr.Column(scale=4, min_width=360):
            v.glabel = gr.Markdown(elem_id="gan-grid-label")
            v.gallery = gr.Gallery(show_label=False, columns=4, height=470, allow_preview=False, format="png",
                                   selected_index=0, elem_id="gan-grid", elem_classes="crisp", object_fit="contain",
                                   buttons=[])
            v.start = gr.Number(SEED, precision=0, visible=False)
    gr.Markdown(INTRO, elem_classes="intro")


def _reals_section(v: SimpleNamespace) -> None:
    with gr.Accordion("What D sees: real test images, and the minimax objective with live values", open=True):
        with gr.Row():
            with gr.Column(scale=5, min_width=360):
                gr.Markdown("**Real test images** · caption D(x) · click one to use it on the right")
                v.rgal = gr.Gallery(show_label=False, columns=4, height=290, allow_preview=False, format="png",
                                    elem_classes="crisp", elem_id="gan-real", buttons=[], selected_index=0)
                with gr.Row(equal_height=True):
                    v.ridx = gr.Number(REAL, label=TEST, precision=0, elem_id="gan-real-index")
                    v.more = gr.Button("next 8", scale=0, min_width=110)
                v.rmd = gr.Markdown()
            with gr.Column(scale=6, min_width=420):
                v.obj = gr.Markdown(elem_id="gan-objective")
        gr.Markdown(ALGORITHM)


def _interpolation_section(v: SimpleNamespace) -> None:
    with gr.Accordion("Interpolation between two seeds", open=True):
        with gr.Row():
            v.sa = gr.Number(SEED, label="seed A", precision=0)
            v.sb = gr.Number(SEED_B, label="seed B", precision=0)
            v.steps = gr.Slider(2, 16, STEPS, step=1, label="steps")
            v.method = gr.Radio(["linear", "spherical"], value=PATH, label="path", elem_id="gan-path")
        v.strip = gr.Image(label="strip: G(z) from A to B", format="png", elem_classes="crisp", interactive=False,
                           elem_id="gan-strip")
        with gr.Row():
            v.anim = gr.Image(label="animation (A → B → A)", height=240, interactive=False, elem_classes="crisp",
                              elem_id="gan-anim", scale=1)
            v.walk_md = gr.Markdown()


def _conditional_section(v: SimpleNamespace) -> None:
    with gr.Accordion("Class-conditional GAN: G(z, y), style vs class, and D(x, y) with the right and a wrong label",
                      open=True):
        gr.Markdown(COND_INTRO, elem_classes="intro")
        with gr.Row():
            with gr.Column(scale=3, min_width=300):
                v.cls = gr.Radio(_classes(DATASET), value=CLASS, label="class y", elem_id="cgan-class")
                v.cseed = gr.Number(SEED, label="seed (the style z)", precision=0, elem_id="cgan-seed")
                v.cimg = gr.Image(label="G(z, y)", format="png", height=224, elem_id="cgan-image",
                                  elem_classes="crisp", interactive=False)
                v.cmd = gr.Markdown(elem_classes="numbers", elem_id="cgan-text")
            with gr.Column(scale=7, min_width=480):
                v.cgrid = gr.Image(label="style vs class: G(z_row, y_column)", format="png", height=340,
                                   elem_id="cgan-grid", elem_classes="crisp", interactive=False)
                v.cgrid_md = gr.Markdown(elem_id="cgan-grid-label")
        with gr.Row():
            with gr.Column(scale=3, min_width=300):
                v.jidx = gr.Number(REAL, label=TEST, precision=0, elem_id="cgan-real-index")
                v.wrong = gr.Radio(_classes(DATASET), value=WRONG, label="a wrong label for it", elem_id="cgan-wrong")
            with gr.Column(scale=2, min_width=200):
                v.jimg = gr.Image(label="real x", format="png", height=224, elem_id="cgan-real", elem_classes="crisp",
                                  interactive=False)
            with gr.Column(scale=5, min_width=360):
                v.jmd = gr.Markdown(elem_id="cgan-judge")


def _training_section(v: SimpleNamespace) -> None:
    with gr.Accordion("Training: snapshots by epoch, loss curves, mode collapse, minimax vs non-saturating", open=True):
        v.epoch = gr.Radio([], label="snapshot epoch (64 fixed z, seed 1234)", elem_id="gan-epoch")
        with gr.Row():
            v.ns_snap, v.mm_snap = (gr.Image(label=lab, format="png", height=484, elem_classes="crisp",
                                             interactive=False, elem_id=eid)
                                    for lab, eid in (("non-saturating", "gan-snap"), ("minimax", "gan-snap-mm")))
        with gr.Row():
            v.ns_plot, v.mm_plot = (gr.HTML(elem_id=eid) for eid in ("gan-curves", "gan-curves-mm"))
        v.cmp = gr.Markdown(elem_id="gan-compare")
        with gr.Row():
            v.ns_hist, v.mm_hist = (gr.HTML(elem_id=eid) for eid in ("gan-hist", "gan-hist-mm"))


# --- wiring ----------------------------------------------------------------------------------------------------------

LIVE = dict(show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)


def _wire_focused(v: SimpleNamespace) -> None:
    """The focused seed: ◀ ▶ random and a grid click each redraw all that follows the seed in one event; typing a
    seed (seed.input, not .change, so a seed set by the server does not draw it twice) returns the image first (the
    gan_sample API), then the rest. A typed seed may be out of range and warn: it stays in the queue (common.FAST)."""
    focused, out = [v.seed, v.ds, v.psi, *v.u], [v.img, v.dtext, v.obj]
    rest = [v.start, v.ds, v.psi, *v.u, v.ridx]
    v.seed.input(sample, focused, [v.img, v.dtext], api_name="gan_sample", **LIVE).then(
        follow, [v.seed, *rest], [v.seed, v.start, v.gallery, v.obj], api_name=False, **LIVE)
    whole = [v.seed, v.start, v.gallery, *out]  # view()'s order
    for btn, delta in ((v.prev, -1), (v.next, 1), (v.rnd, None)):  # a seed the button made: the fast lane
        btn.click(step_seed(delta), [v.seed, *rest], whole, api_name=False, **FAST)
    v.start.change(grid, [v.start, v.ds, v.psi], [v.gallery, v.glabel], api_name="gan_grid", **LIVE)
    v.gallery.select(focus, rest, whole, api_name=False, **FAST)
    for c in (*v.u, v.psi):
        c.input(redraw, [*focused, v.ridx], out, api_name=False, **FAST)
    v.psi.input(grid, [v.start, v.ds, v.psi], [v.gallery, v.glabel], api_name=False, **FAST)
    v.reset.click(lambda: (0.0, 0.0, 0.0), None, v.u, api_name=False).then(
        redraw, [*focused, v.ridx], out, api_name=False, show_progress="hidden")


def _wire_sections(v: SimpleNamespace) -> None:
    """The real images, interpolation, the conditional GAN and the snapshots: each control redraws its section."""
    focused = [v.seed, v.ds, v.psi, *v.u]
    v.ridx.change(reals, [v.ds, v.ridx], [v.rgal, v.rmd, v.ridx], api_name=False, show_progress="hidden").then(
        objective, [*focused, v.ridx], v.obj, api_name=False, show_progress="hidden")
    v.rgal.select(pick_real, v.ridx, v.ridx, api_name=False)
    v.more.click(lambda i: (int(i or 0) - int(i or 0) % N_REAL + N_REAL) % (LAST_TEST + 1), v.ridx, v.ridx,
                 api_name=False)
    inter = [v.sa, v.sb, v.ds, v.steps, v.method, v.psi]
    for c in (v.sa, v.sb, v.steps, v.method):
        c.change(interpolate, inter, [v.strip, v.anim, v.walk_md], api_name="gan_interpolate" if c is v.sa else False,
                 show_progress="hidden", trigger_mode="always_last")
    v.psi.release(interpolate, inter, [v.strip, v.anim, v.walk_md], api_name=False, show_progress="hidden")
    v.epoch.change(snapshot, [v.ds, v.epoch], [v.ns_snap, v.mm_snap], api_name=False, show_progress="hidden")
    cond = dict(show_progress="hidden", trigger_mode="always_last")
    v.cls.change(cond_sample, [v.cseed, v.cls, v.ds], [v.cimg, v.cmd], api_name="cgan_sample", **cond)
    v.cseed.change(cond_sample, [v.cseed, v.cls, v.ds], [v.cimg, v.cmd], api_name=False, **cond)
    v.cseed.change(cond_grid, [v.cseed, v.ds, v.cls], [v.cgrid, v.cgrid_md], api_name="cgan_grid", **cond)
    v.cls.change(cond_grid, [v.cseed, v.ds, v.cls], [v.cgrid, v.cgrid_md], api_name=False, **cond)
    v.jidx.change(cond_judge, [v.jidx, v.wrong, v.ds], [v.jimg, v.jmd], api_name="cgan_judge", **cond)
    v.wrong.change(cond_judge, [v.jidx, v.wrong, v.ds], [v.jimg, v.jmd], api_name=False, **cond)


def _views(v: SimpleNamespace) -> list[dict]:
    """Everything that depends on the dataset, one handler a part: filled when the page opens (after a lecture
    link's values are set) and again when the dataset changes."""
    focused = [v.seed, v.ds, v.psi, *v.u]
    return [
        dict(fn=redraw, inputs=[*focused, v.ridx], outputs=[v.img, v.dtext, v.obj], show_progress="hidden"),
        dict(fn=grid_at, inputs=[v.seed, v.start, v.ds, v.psi], outputs=[v.start, v.gallery, v.glabel]),
        dict(fn=reals, inputs=[v.ds, v.ridx], outputs=[v.rgal, v.rmd, v.ridx]),
        dict(fn=interpolate, inputs=[v.sa, v.sb, v.ds, v.steps, v.method, v.psi],
             outputs=[v.strip, v.anim, v.walk_md]),
        dict(fn=classes, inputs=v.ds, outputs=[v.cls, v.wrong]),
        dict(fn=cond_sample, inputs=[v.cseed, v.cls, v.ds], outputs=[v.cimg, v.cmd]),
        dict(fn=cond_grid, inputs=[v.cseed, v.ds, v.cls], outputs=[v.cgrid, v.cgrid_md]),
        dict(fn=cond_judge, inputs=[v.jidx, v.wrong, v.ds], outputs=[v.jimg, v.jmd]),
        dict(fn=training, inputs=v.ds, api_name="gan_training", show_progress="minimal",
             outputs=[v.epoch, v.ns_snap, v.mm_snap, v.ns_plot, v.mm_plot, v.cmp, v.ns_hist, v.mm_hist]),
    ]


def build(demo: gr.Blocks) -> None:
    """The tab's components, its events, and its first view: filled on page load like every tab (links.on_load)."""
    gr.Markdown(missing(MODELS), elem_classes="banner")
    v = SimpleNamespace()
    for section in (_focused, _reals_section, _interpolation_section, _conditional_section, _training_section):
        section(v)
    _wire_focused(v)
    _wire_sections(v)
    for view in _views(v):
        links.on_load("gan", **{**view, "api_name": False})
        v.ds.input(**{"api_name": False, **view})  # .input: a dataset set by a lecture link is drawn once, on load
    links.register("gan", ds=v.ds, seed=v.seed, psi=v.psi, n1=v.u[0], n2=v.u[1], n3=v.u[2], real=v.ridx, a=v.sa,
                   b=v.sb, steps=v.steps, path=v.method, y=v.cls, cseed=v.cseed, img=v.jidx, wrong=v.wrong)
