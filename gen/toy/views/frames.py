"""A frame of the playground as numbers: points, arrows, D's heat map, loss curves, for the browser to draw.

A frame is a JSON-ready dict: {"panels": [panel, ...]} for a view, {"charts": [chart, ...]} for loss plots.
gen/ui/assets/playground.js draws them on <canvas> elements. A panel shows [-r, r]^2 at w x h px:

    {"w": 420, "h": 420, "r": 3.0, "alt": "...", "legend": [[kind, css colour, html], ...],
     "layers": [{"heat": base64 uint8 [n x n], "n": n, "lo": rgb, "mid": rgb, "hi": rgb},   # top row first
                {"dots": [x0, y0, x1, y1, ...], "color": css | "hue": [key in 0..1, ...], "size": px},
                {"arrows": [x, y, dx, dy, ...], "color": css, "width": px, "head": px},  # all in data units
                {"rings": [radius, ...], "color": css}, {"line": [x0, y0, ...], "color": css, "width": px}]}

A chart: {"title": str, "xlabel": str, "ylim": [lo, hi] | null, "series": [{"label", "color", "x": [], "y": []}]}.
Coordinates are rounded to 0.01 (under a pixel at the sizes shown). No drawing happens on the server.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import numpy as np
import torch

from gen.toy.data import R
from gen.toy.trainers import DDPMTrainer, GANTrainer, VAETrainer
from gen.work import one_thread

REAL, FAKE, ARROW = "#1b7837", "#762a83", "#282828"
FORWARD, REVERSE, FAINT, FIELD = "#1f77b4", "#e66e00", "#cdcdcd", "#969696"
D_FAKE, D_REAL = (196, 160, 228), (120, 200, 135)  # D = 0 purple, D = 1 green, white at 1/2
CURVES = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")
RAINBOW = "linear-gradient(90deg,#c33,#cc3,#3c3,#3cc,#33c,#c3c)"


def to_json(frame: dict) -> str:
    """Compact JSON (a string, so that Gradio's streaming diff compares one string, not every number)."""
    return json.dumps(frame, separators=(",", ":"), allow_nan=False)


def flat(p: np.ndarray | torch.Tensor, digits: int = 2) -> list[float]:
    """[N, k] numbers -> one flat list rounded to `digits` (non-finite values -> 0: JSON has no NaN)."""
    a = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.0, posinf=1e3, neginf=-1e3)
    return np.round(a.reshape(-1), digits).tolist()


def panel(w: int, alt: str, layers: list[dict], legend: list, h: int | None = None, r: float = R) -> dict:
    return {"w": int(w), "h": int(h or w), "r": r, "alt": alt, "layers": layers, "legend": legend}


def dots(p, color: str | None = None, size: float = 2.5, hue: np.ndarray | None = None) -> dict:
    layer: dict = {"dots": flat(p), "size": size}
    if hue is not None:
        layer["hue"] = np.round(np.asarray(hue, dtype=np.float64) % 1, 2).tolist()
    else:
        layer["color"] = color
    return layer


def arrows(start, vec, color: str, width: float = 2, head: float = 6) -> dict:
    return {"arrows": flat(np.concatenate([np.asarray(start, np.float64).reshape(-1, 2),
                                           np.asarray(vec, np.float64).reshape(-1, 2)], 1)),
            "color": color, "width": width, "head": head}


def grid(cells: int, r: float = R, flip: bool = False) -> torch.Tensor:
    """Cell centres of a cells x cells grid over [-r, r]^2, row by row (top row first when flip)."""
    c = (np.arange(cells) + 0.5) / cells * 2 * r - r
    xx, yy = np.meshgrid(c, c[::-1] if flip else c)
    return torch.tensor(np.stack([xx, yy], -1).reshape(-1, 2), dtype=torch.float32)


def heat(D: torch.nn.Module, cells: int = 48) -> dict:
    """D(x) on a cells x cells grid over the view, as bytes (0..255), top row first."""
    with torch.no_grad():
        p = torch.sigmoid(D(grid(cells, flip=True))).numpy()
    return {"heat": base64.b64encode((p * 255).round().astype(np.uint8).tobytes()).decode(), "n": cells,
            "lo": D_FAKE, "mid": (255, 255, 255), "hi": D_REAL}


def gan(tr: GANTrainer, size: int, n_arrows: int = 40) -> dict:
    """Real points, G(z), D(x) as the background, and G's push -d loss_G/dx on a few fakes."""
    with one_thread():
        fakes = tr.fakes()
        push = tr.generator_push(fakes[:n_arrows]).numpy()
        background = heat(tr.D)
    length = np.linalg.norm(push, axis=1, keepdims=True)
    push = push * np.minimum(1.0, 1.6 / np.maximum(length, 1e-12)) * 0.5  # arrows at most 0.8 units long
    layers = [background, dots(tr.data.x[tr.view_idx[:500]], REAL, 3.0),
              dots(fakes.clamp(-R * 0.99, R * 0.99), FAKE, 3.0),  # samples outside the view sit on its border
              arrows(fakes[:n_arrows], push, ARROW)]
    legend = [["dot", REAL, "real data x"], ["dot", FAKE, "generated G(z)"],
              ["arrow", ARROW, "G's update direction on G(z)"],
              ["bar", f"linear-gradient(90deg,rgb{D_FAKE},white,rgb{D_REAL})", "D(x): 0 · ½ · 1"]]
    return {"panels": [panel(size, "GAN view: data, G(z), D's verdict and G's gradient", layers, legend)]}


def ddpm(tr: DDPMTrainer, t: int, chain: np.ndarray, size: int, show_forward: bool = True) -> dict:
    """At step t: the data noised by q(x_t | x_0), Algorithm 2's cloud at t, and -eps_theta(x, t) as arrows."""
    t = int(min(max(t, 0), tr.T))
    with one_thread():
        g, eps = tr.field(max(t, 1))
        forward = tr.forward_cloud(t) if show_forward else None
    cell = 2 * R / 15
    n = np.linalg.norm(eps, axis=1, keepdims=True)
    layers = [dots(tr.data.x[tr.view_idx], FAINT, 2.0),
              arrows(g, -eps / np.maximum(n, 1e-9) * np.minimum(n * 0.3, 0.95) * cell, FIELD, 1, 4)]
    if forward is not None:
        layers.append(dots(forward, FORWARD, 2.5))
    layers.append(dots(chain[t], REVERSE, 2.5))
    legend = [["dot", FORWARD, f"data noised: q(x<sub>t</sub> | x<sub>0</sub>), t = {t}"],
              ["dot", REVERSE, f"Algorithm 2 from x<sub>T</sub> ~ N(0, I), at t = {t}"],
              ["arrow", FIELD, f"−ε<sub>θ</sub>(x, {max(t, 1)})"], ["dot", FAINT, "data"]]
    return {"panels": [panel(size, f"DDPM view at t = {t}", layers, legend)]}


def vae(tr: VAETrainer, size: int, latent_size: int) -> dict:
    """Data space (data coloured by position, g(z) for z ~ N(0, I)) and latent space (mu(x) of the same points)."""
    keys = tr.data.key[tr.view_idx.numpy()]
    with one_thread():
        prior, mu = tr.prior_samples(), tr.codes().numpy()
    data = panel(size, "VAE data space", [dots(tr.data.x[tr.view_idx], hue=keys), dots(prior, "#1e1e1e", 2.0)],
                 [["bar", RAINBOW, "data x (colour: where it lies)"], ["dot", "#1e1e1e", "g(z), z ~ N(0, I)"]])
    if tr.latent == 2:
        layers = [{"rings": [1, 2], "color": "#787878"}, dots(mu, size=2.2, hue=keys)]
        shape = "1σ, 2σ of N(0, I)"
    else:
        zs = np.linspace(-R, R, 121)
        jitter = np.random.default_rng(0).uniform(-0.6, 0.6, len(mu)) - 1.5
        layers = [{"line": flat(np.stack([zs, 2.5 * np.exp(-zs ** 2 / 2)], 1)), "color": "#787878", "width": 2},
                  dots(np.stack([mu[:, 0], jitter], 1), size=2.2, hue=keys)]
        shape = "N(0, 1) density"
    latent = panel(latent_size, "VAE latent space", layers,
                   [["bar", RAINBOW, "μ(x) of the same points"], ["ring", "#787878", shape]])
    return {"panels": [data, latent]}


def chart(title: str, xlabel: str, series: list[dict], ylim: Sequence[float] | None = None) -> dict:
    for s, colour in zip(series, CURVES):
        s["color"] = colour
        s["y"] = [round(v, 4) for v in s["y"]]
    return {"title": title, "xlabel": xlabel, "ylim": list(ylim) if ylim else None, "series": series}


def charts(*items: dict) -> dict:
    return {"charts": list(items)}


def fitted_ylim(series: list[dict], late: float = 0.05, step: float = 1.0) -> list[float] | None:
    """A y range for all but the first `late` of training (the first steps are far off), in whole `step`s."""
    vals = [v for s in series for x, v in zip(s["x"], s["y"]) if x >= late * max(s["x"][-1], 1)]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    pad = 0.1 * max(hi - lo, step)
    return [float(np.floor((lo - pad) / step) * step), float(np.ceil((hi + pad) / step) * step)]
