"""Image helpers: tensors <-> uint8 / PIL, grids, crisp upscaling, preprocessing of user images."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError


def to_uint8(x: torch.Tensor, signed: bool = False) -> np.ndarray:
    """[N,1,H,W] or [N,H,W] float in [0,1] (or [-1,1] if signed) -> uint8 [N,H,W]."""
    x = x.detach().float().cpu()
    if signed:
        x = (x + 1) / 2
    if x.dim() == 4:
        x = x[:, 0]
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def to_float(images: np.ndarray | torch.Tensor, signed: bool = False) -> torch.Tensor:
    """uint8 [N,H,W] -> float [N,1,H,W] in [0,1] (or [-1,1] if signed)."""
    x = images.float() if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images, np.float32))
    x = x.div(255).unsqueeze(1)  # (a float copy: read-only arrays, e.g. the cached test images, stay untouched)
    return x * 2 - 1 if signed else x


def data_url(img: np.ndarray, fmt: str = "PNG", quality: int = 90) -> str:
    """An image as an inline data URL: streamed frames live in the page, not in files on the server."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def upscale(img: np.ndarray, size: int = 448) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor so pixels stay crisp on a projector: the largest factor
    that keeps the longer side within `size` (at least 1). A strip of ten digits stays a strip of ten digits, not
    an image of 5 million pixels to encode on every slider move."""
    k = max(1, size // max(img.shape[:2]))
    return img.repeat(k, 0).repeat(k, 1)  # (np.kron computes the same with k² multiplications per pixel: 10x slower)


def grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, value: int = 128) -> np.ndarray:
    """uint8 [N,H,W] -> one uint8 image with the N images in rows of `nrow`."""
    n, h, w = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    out = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad), value, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return out


def pixel_diversity(images: np.ndarray) -> float:
    """How different a set of uint8 images [N,H,W] is: the per-pixel std across the set, averaged, in 0..1."""
    return float((images.astype(np.float64) / 255).std(axis=0).mean())


class Preprocessed(NamedTuple):
    gray: np.ndarray  # the upload as grayscale uint8
    inverted: bool  # True if the background was light and we flipped it
    image: np.ndarray  # uint8 [28,28], white digit on black, centred like MNIST


MAX_SIDE = 4096  # larger uploads are refused: they cannot be a drawing and cost memory


def preprocess(img: Image.Image | np.ndarray | str | Path) -> Preprocessed:
    """Any image (or image file) -> MNIST-like 28x28: grayscale, invert if light background, crop, fit 20x20, centre.

    Raises ValueError with a message meant for the user.
    """
    if isinstance(img, str | Path):
        try:
            img = Image.open(img)  # reads the header only: the size check below comes before any decoding
        except Image.DecompressionBombError as e:
            raise ValueError(f"Image is far too large; please use one under {MAX_SIDE} px a side.") from e
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise ValueError("This file is not an image (or not one that can be read): upload a PNG or JPEG.") from e
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:  # 16-bit, float...: stretch min..max to 0..255, as for 16-bit PIL images
            a = img.astype(np.float64)
            img = (255 * (a - a.min()) / max(1e-9, np.ptp(a))).astype(np.uint8)
        img = Image.fromarray(img)
    if max(img.size) > MAX_SIDE:
        raise ValueError(f"Image is {img.size[0]}x{img.size[1]} px; please use one under {MAX_SIDE} px a side.")
    try:
        img.load()  # decode now: a truncated or corrupted file fails here, with a message below
        if img.getexif().get(0x0112, 1) != 1:  # phone photos: turn upright as shown (Orientation tag)
            img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError("The image file is truncated or corrupted and cannot be decoded: upload it again.") from e
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels count as background: paste on white (a drawing's paper).
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((255 * (a - a.min()) / max(1e-9, np.ptp(a))).astype(np.uint8))
    gray = np.asarray(ImageOps.grayscale(img.convert("RGB")), dtype=np.uint8)
    # The border tells the background: MNIST is a light stroke on black.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    inverted = bool(border.mean() > 127)
    a = 255 - gray if inverted else gray.copy()
    a = a.astype(np.float32)
    a[a < 0.15 * 255] = 0  # drop paper texture and jpeg noise
    if a.max() == 0 or int(gray.max()) - int(gray.min()) < 0.15 * 255:  # (a flat grey, or 1x1, has no stroke)
        raise ValueError("The image looks empty (one flat colour): draw or upload a digit.")
    ys, xs = np.nonzero(a)
    crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    s = 20.0 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.BILINEAR))
    small = small * (255.0 / max(1e-6, small.max()))
    out = np.zeros((28, 28), dtype=np.float32)
    # Centre by centre of mass, as MNIST was built.
    cy, cx = np.array(np.nonzero(small)).mean(axis=1) if small.any() else (nh / 2, nw / 2)
    top = int(round(14 - cy)) if small.any() else (28 - nh) // 2
    left = int(round(14 - cx)) if small.any() else (28 - nw) // 2
    top, left = min(max(top, 0), 28 - nh), min(max(left, 0), 28 - nw)
    out[top:top + nh, left:left + nw] = small
    return Preprocessed(gray, inverted, out.clip(0, 255).astype(np.uint8))


# Ten colours that stay distinct on a projector (Tableau 10).
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def scatter(points: np.ndarray, labels: np.ndarray, r: float, size: int = 448,
            mark: tuple[float, float] | None = None) -> np.ndarray:
    """RGB uint8 [size,size,3]: 2-D points in [-r,r]^2 coloured by label, optional cross at `mark`.

    Same axes as `latent_to_pixel`: x to the right, y up.
    """
    from PIL import ImageDraw

    im = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im)
    c = size / 2
    d.line([(c, 0), (c, size)], fill=(210, 210, 210))
    d.line([(0, c), (size, c)], fill=(210, 210, 210))
    for (px, py), lab in zip(latent_to_pixel(points, r, size), labels):
        d.ellipse([px - 2, py - 2, px + 2, py + 2], fill=PALETTE[int(lab) % 10])
    if mark is not None:
        (mx, my), = latent_to_pixel(np.array([mark]), r, size)
        d.line([(mx - 12, my), (mx + 12, my)], fill=(0, 0, 0), width=3)
        d.line([(mx, my - 12), (mx, my + 12)], fill=(0, 0, 0), width=3)
    return np.asarray(im)


def latent_to_pixel(z: np.ndarray, r: float, size: int) -> np.ndarray:
    """Latent (z1, z2) in [-r, r]^2 -> pixel (x, y) on a size x size map, y up."""
    z = np.asarray(z, dtype=np.float64)
    return np.stack([(z[:, 0] + r) / (2 * r) * size, (r - z[:, 1]) / (2 * r) * size], axis=1)


def pixel_to_latent(x: float, y: float, r: float, size: int) -> tuple[float, float]:
    """Inverse of latent_to_pixel: where a click on the map lands in latent space."""
    return (x / size * 2 * r - r, r - y / size * 2 * r)
