"""Bad uploads to the launched app: each one works or says clearly what is wrong, and the app keeps serving."""
from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image, ImageDraw


def img(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def stroke(a: np.ndarray, value) -> np.ndarray:
    """A '1'-like bar in the middle of a 64x64 array."""
    a[10:54, 28:36] = value
    return a


def make(kind: str, path) -> None:
    """Write the upload `kind` to `path` (cheap to generate: all are small files)."""
    if kind == "text":  # not an image at all, though named .png
        path.write_bytes(b"this is not an image, only text named x.png\n" * 20)
    elif kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "truncated":  # a real PNG header, the pixel data cut off (an interrupted upload)
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "huge":  # 6000x6000: a flat PNG compresses to about 35 kB, far under max_file_size
        Image.new("L", (6000, 6000), 0).save(path)
    elif kind == "rgba":  # black ink on a transparent background, as drawing apps export
        Image.fromarray(stroke(np.zeros((64, 64, 4), np.uint8), (0, 0, 0, 255)), "RGBA").save(path)
    elif kind == "palette":
        p = Image.new("P", (64, 64), 0)
        p.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
        ImageDraw.Draw(p).rectangle([28, 10, 35, 53], fill=1)
        p.save(path)
    elif kind == "16-bit":
        Image.fromarray(stroke(np.zeros((64, 64), np.uint16), 60000)).save(path)
        assert Image.open(path).mode == "I;16"
    elif kind == "1x1":
        Image.new("L", (1, 1), 128).save(path)
    elif kind == "black":
        Image.new("RGB", (64, 64), (0, 0, 0)).save(path)
    elif kind == "white":
        Image.new("RGB", (64, 64), (255, 255, 255)).save(path)
    elif kind == "photo":  # colour noise with a thick light digit drawn on it, saved as a JPEG
        im = Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 100, 3), dtype=np.uint8))
        ImageDraw.Draw(im).line([(30, 20), (70, 20), (45, 100)], fill=(250, 250, 250), width=12)
        im.save(path, format="JPEG")
    else:
        raise KeyError(kind)


WORKS = ["rgba", "palette", "16-bit", "photo"]
FAILS = {  # kind -> what the message must say
    "text": r"This file is not an image",
    "zero-bytes": r"This file is not an image",
    "truncated": r"truncated or corrupted",
    "huge": r"6000x6000.*under 4096 px",
    "1x1": r"empty",
    "black": r"empty",
    "white": r"empty",
}


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    d = tmp_path_factory.mktemp("uploads")
    files = {}
    for kind in [*WORKS, *FAILS]:
        files[kind] = d / ("x.jpg" if kind == "photo" else "x.png" if kind == "text" else f"{kind}.png")
        make(kind, files[kind])
    return files


def encode(client, path):
    return client.predict("MNIST", "2-D latent", None, handle_file(path), 0, api_name="/vae_encode")


def forward(client, path, t=0):
    return client.predict("MNIST", 0, None if path is None else handle_file(path), "linear", t, 0,
                          api_name="/ddpm_forward")


@pytest.mark.parametrize("kind", WORKS)
def test_vae_encode_accepts(client, uploads, kind):
    pre, rec, md = encode(client, uploads[kind])
    pre = img(pre)
    assert pre.shape == (224, 224) and pre.max() > 200  # a digit was found and scaled to full range
    assert pre[:8].max() == 0 and pre[:, :8].max() == 0  # white on black with an empty border, like MNIST
    assert img(rec).shape == (224, 224)
    assert "ELBO" in md and "nats" in md
    if kind in ("rgba", "palette"):  # dark ink on (transparent or white) paper is flipped to MNIST's polarity
        assert "inverted" in md


def test_vae_encode_keeps_transparency(client, uploads):
    """Transparent pixels are paper: the black stroke on a transparent background is the digit, not 'empty'."""
    pre, _, md = encode(client, uploads["rgba"])
    cols = np.nonzero(img(pre).max(0) > 128)[0]
    assert 0 < cols.max() - cols.min() < 224 // 3  # a narrow '1', not a full square
    assert "grayscale 64×64" in md


@pytest.mark.parametrize("kind", FAILS)
def test_vae_encode_refuses_clearly(client, uploads, kind):
    with pytest.raises(Exception, match=FAILS[kind]):
        encode(client, uploads[kind])


def test_ddpm_forward_uses_uploads(client, uploads):
    """The Forward tab's upload: at t = 0, x_t is the preprocessed upload itself, not the test image."""
    test_x0 = img(forward(client, None)[0])
    for kind in WORKS:
        x_t, eps, md, *_ = forward(client, uploads[kind])
        assert "t = **0**" in md
        assert np.abs(img(x_t).astype(int) - test_x0).mean() > 5, kind


@pytest.mark.parametrize("kind", ["text", "huge", "white"])
def test_ddpm_forward_refuses_clearly(client, uploads, kind):
    with pytest.raises(Exception, match=FAILS[kind]):
        forward(client, uploads[kind], t=100)


def test_app_still_serves_after_bad_input(client, app_url):
    """Runs after the tests above (file order): a normal request and the page still work."""
    a = img(client.predict(0.0, 0.0, "MNIST", api_name="/vae_decode"))
    assert a.shape == (336, 336) and a.max() > 100
    with urllib.request.urlopen(app_url, timeout=30) as r:
        assert r.status == 200
