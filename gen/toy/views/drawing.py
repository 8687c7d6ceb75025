"""The "Your own data" canvas: an image that takes clicks (Gradio gives their pixel), drawn with PIL."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from gen.images import latent_to_pixel, pixel_to_latent
from gen.toy.data import R, ToyData


def hue(key: np.ndarray, s: float = 0.75, v: float = 0.8) -> np.ndarray:
    """Colour key in [0, 1) -> RGB uint8 [N, 3] around the colour wheel (as playground.js's hue)."""
    h = (np.asarray(key, dtype=np.float64) % 1) * 6
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    one = np.ones_like(f)
    p, q, t = v * (1 - s) * one, v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, 1) for c in ((v * one, t, p), (q, v * one, p), (p, v * one, t), (p, q, v * one),
                                               (t, p, v * one), (v * one, p, q))], 1)
    return (table[np.arange(len(h)), i] * 255).round().astype(np.uint8)


def from_px(x: float, y: float, size: int, r: float = R) -> tuple[float, float]:
    """Where a click at pixel (x, y) of the canvas lands in data coordinates."""
    return pixel_to_latent(x, y, r, size)


def canvas(size: int, r: float = R) -> Image.Image:
    """A white square with a light grid at every unit and the axes."""
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    for v in range(-int(r), int(r) + 1):
        (px, py), = latent_to_pixel(np.array([[v, v]]), r, size)
        col = (170, 170, 170) if v == 0 else (228, 228, 228)
        d.line([(px, 0), (px, size)], fill=col)
        d.line([(0, py), (size, py)], fill=col)
    return im


def dots(im: Image.Image, p, colour, radius: float = 2.5, r: float = R) -> None:
    d = ImageDraw.Draw(im)
    px = latent_to_pixel(np.asarray(p, dtype=np.float64).reshape(-1, 2), r, im.width)
    cols = np.broadcast_to(np.asarray(colour, dtype=np.uint8), (len(px), 3))
    for (x, y), c in zip(px, cols):
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=tuple(int(v) for v in c))


def data_view(points: Sequence[Sequence[float]], data: ToyData | None = None, size: int = 420) -> np.ndarray:
    """The drawing canvas: clicked points (big) and the data set made from them (small)."""
    im = canvas(size)
    if data is not None:
        dots(im, data.x[:1500], hue(data.key[:1500]), 2.0)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p):
        dots(im, p, (20, 20, 20), 5.0)
    return np.asarray(im)
