"""The VAE tab: latent sliders, the 2-D latent map, interpolation, encode your own, AE vs VAE."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import numpy as np
import torch

from gen import data
from gen.images import PALETTE, grid, pixel_to_latent, preprocess, scatter, to_float, to_uint8
from gen.latent import seed_to_z
from gen.ui.common import DATASETS, fmt, friendly, image, missing, model, readable_upload
from gen.vae import encode_report, latent_grid, walk

R = 3.0  # the map and sliders cover [-3, 3]^2: 99.7% of the prior per axis
MAP = 420  # px: 15 x 28
SHOW = 400  # px the maps are shown at


def _vae(ds: str, latent: int = 2):
    return model(f"vae{latent}-{DATASETS[ds]}")


@torch.no_grad()
def decode(z1: float, z2: float, ds: str) -> np.ndarray:
    return image(to_uint8(_vae(ds).decode(torch.tensor([[z1, z2]], dtype=torch.float32)))[0])


@lru_cache(maxsize=4)
def _test_mu(ds: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = data.test_sample(DATASETS[ds])
    with torch.no_grad():
        return _vae(ds).encode(to_float(x)).mu.numpy(), y


@lru_cache(maxsize=4)
def latent_map(ds: str) -> np.ndarray:
    return grid(to_uint8(latent_grid(_vae(ds), 15, R)), 15, pad=0)


def maps(ds: str, z1: float = 0.0, z2: float = 0.0) -> tuple[np.ndarray, np.ndarray, str]:
    mu, y = _test_mu(ds)
    legend = " ".join(f"<span style='color:rgb{PALETTE[i]};font-weight:700'>● {c}</span>"
                      for i, c in enumerate(data.CLASSES[DATASETS[ds]]))
    return latent_map(ds), scatter(mu, y, R, MAP, mark=(z1, z2)), legend


def click(ds: str, evt: gr.SelectData) -> tuple[float, float, np.ndarray, np.ndarray]:
    z1, z2 = (round(v, 2) for v in pixel_to_latent(evt.index[0], evt.index[1], R, MAP))
    mu, y = _test_mu(ds)
    return z1, z2, decode(z1, z2, ds), scatter(mu, y, R, MAP, mark=(z1, z2))


def _x(ds: str, index: float, drawn: np.ndarray | None) -> torch.Tensor:
    """An endpoint: a test image by index, or a drawing stored for this endpoint when index = -1."""
    if index < 0:
        if drawn is None:
            raise gr.Error("No drawing stored for this end: draw or upload in 'Encode your own' and press "
                           "'use as A' / 'use as B', or pick a test index ≥ 0.")
        return to_float(drawn[None])
    x, _ = data.test_sample(DATASETS[ds])
    return to_float(x[int(index) % len(x)][None])


@friendly
def interpolate(ds: str, latent: str, a: float, b: float, steps: int, method: str,
                drawn_a: np.ndarray | None = None, drawn_b: np.ndarray | None = None) -> np.ndarray:
    vae = _vae(ds, 16 if latent.startswith("16") else 2)
    x = walk(vae, _x(ds, a, drawn_a), _x(ds, b, drawn_b), int(steps), method)
    return image(grid(to_uint8(x), int(steps), pad=1), 96 * int(steps))


@friendly
def encode(ds: str, latent: str, sketch: dict | None, upload, seed: float):
    src = upload if upload is not None else (sketch or {}).get("composite")
    if src is None:
        raise gr.Error("Draw a digit on the sketchpad or upload an image first.")
    pre = preprocess(src)
    vae = _vae(ds, 16 if latent.startswith("16") else 2)
    r = encode_report(vae, to_float(pre.image[None]), int(seed))
    rec, kl = float(r.terms.recon), float(r.terms.kl)
    md = (f"**q(z|x) = N(μ, diag σ²)**  \nμ = {fmt(r.mu)}  \nσ = {fmt(r.sigma)}\n\n"
          f"**Reparameterisation z = μ + σ ⊙ ε**, ε ~ N(0, I) (seed {int(seed)})  \n"
          f"ε = {fmt(r.eps)}  \nz = {fmt(r.z)}\n\n"
          f"**ELBO = E[log p(x|z)] − KL(q(z|x) ‖ p(z))**  \n"
          f"= {rec:.1f} − {kl:.2f} = **{rec - kl:.1f} nats**  (a lower bound on log p(x))\n\n"
          f"**−KL = ½ Σ (1 + log σ² − σ² − μ²)** = {-kl:.2f}  \n"
          f"log p(x|z) = −BCE(x, g(z)) summed over 784 pixels (Bernoulli decoder)\n\n"
          f"Preprocessing: grayscale {pre.gray.shape[1]}×{pre.gray.shape[0]} → "
          f"{'inverted (light background) → ' if pre.inverted else ''}cropped, fit in 20×20, centred in 28×28.")
    return image(pre.image, 224), image(to_uint8(r.recon)[0], 224), md, pre.image


@torch.no_grad()
def ae_vs_vae(seed: float) -> tuple[np.ndarray, np.ndarray, str]:
    ae, vae = model("ae2-mnist"), model("vae2-mnist")
    z = seed_to_z(int(seed), 2, 16)
    x, _ = data.test_sample("mnist")
    codes = ae.encode(to_float(x)).mu
    lo, hi = codes.min(0).values.tolist(), codes.max(0).values.tolist()
    note = (f"Both decoders get the same 16 draws z ~ N(0, I). The AE was never asked to put its codes there: "
            f"its test codes span z1 ∈ [{lo[0]:.0f}, {hi[0]:.0f}], z2 ∈ [{lo[1]:.0f}, {hi[1]:.0f}], with gaps "
            f"between classes, so many draws decode to blurs or to no digit. The VAE's KL term pulls q(z|x) "
            f"toward N(0, I), so its prior samples look like digits.")
    return image(grid(to_uint8(ae.decode(z)), 4), 336), image(grid(to_uint8(vae.decode(z)), 4), 336), note


INTRO = """### Variational Autoencoder
The encoder maps an image x to **q(z|x) = N(μ(x), σ²(x))**, the decoder maps z back to an image.
Training maximises the **ELBO = E[log p(x|z)] − KL(q(z|x) ‖ p(z))**; generation decodes z ~ p(z) = N(0, I).
"""


def pick_endpoint(which: str, evt: gr.SelectData):
    return (evt.index, gr.skip()) if which == "A" else (gr.skip(), evt.index)


def encode_drawing(ds: str, latent: str, sketch: dict | None, upload, seed: float):
    """Live encoding while drawing: an empty canvas is not an error yet."""
    comp = (sketch or {}).get("composite")
    if comp is None or np.asarray(comp).max() == 0 or np.asarray(comp)[..., -1].max() == 0:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return encode(ds, latent, sketch, None, seed)


def use_drawing(drawn: np.ndarray | None):
    if drawn is None:
        raise gr.Error("Draw or upload an image and encode it first.")
    return drawn, -1


def build(demo: gr.Blocks) -> None:
    gr.Markdown(missing(["vae2-mnist", "vae2-fashion", "vae16-mnist", "vae16-fashion", "ae2-mnist"]),
                elem_classes="banner")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            out = gr.Image(label="decoded g(z)", format="png", height=300,
                           elem_id="vae-decoded", elem_classes="crisp", interactive=False)
            z1 = gr.Slider(-R, R, 0, step=0.05, label="z1")
            z2 = gr.Slider(-R, R, 0, step=0.05, label="z2")
            ds = gr.Radio(list(DATASETS), value="MNIST", label="Dataset")
        with gr.Column(scale=1, min_width=300):
            grid_img = gr.Image(label="latent map: g(z) over [-3, 3]² (click to set z)", format="png",
                                elem_id="vae-map", elem_classes="crisp", interactive=False, height=SHOW)
        with gr.Column(scale=1, min_width=300):
            enc_img = gr.Image(label="test images' μ(x), by class (click to set z)", format="png",
                               elem_id="vae-scatter", interactive=False, height=SHOW)
            legend = gr.Markdown()
    gr.Markdown(INTRO, elem_classes="intro")  # below the main view, which must fit a 1280x720 projector

    with gr.Accordion("Interpolation between two images", open=True):
        gr.Markdown("Encode two images to μ, walk between them in latent space, decode each step. "
                    "Click the gallery to pick, or use your own drawings (index −1, buttons in the section below).")
        with gr.Row():
            latent = gr.Radio(["2-D latent", "16-D latent (sharper)"], value="16-D latent (sharper)", label="VAE")
            a = gr.Number(0, label="image A (test index)", precision=0, minimum=-1, maximum=1999)
            b = gr.Number(1, label="image B (test index)", precision=0, minimum=-1, maximum=1999)
            steps = gr.Slider(2, 16, 10, step=1, label="steps")
            method = gr.Radio(["linear", "spherical"], value="linear", label="path")
            pick = gr.Radio(["A", "B"], value="A", label="gallery click sets")
        gallery = gr.Gallery([image(im, 56) for im in data.test_sample("mnist")[0][:24]], columns=12, height=140,
                             label="test images 0-23", allow_preview=False)
        strip = gr.Image(label="interpolation strip", format="png", elem_id="vae-strip", elem_classes="crisp",
                         interactive=False)

    with gr.Accordion("Encode your own", open=True):
        with gr.Row():
            with gr.Column():
                sketch = gr.Sketchpad(label="draw a digit", canvas_size=(280, 280), elem_id="vae-sketch",
                                      brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"))
                # A file path, in its own mode (no RGB conversion): preprocess checks the size before decoding
                # and keeps transparency.
                upload = readable_upload(gr.Image(label="...or upload an image", type="filepath", image_mode=None,
                                                  sources=["upload", "clipboard"], height=200))
                seed = gr.Number(0, label="seed for ε", precision=0)
                go = gr.Button("Encode", variant="primary")
            with gr.Column():
                with gr.Row():
                    pre_img = gr.Image(label="preprocessed x (28×28)", format="png", elem_classes="crisp",
                                       interactive=False)
                    rec_img = gr.Image(label="reconstruction g(z)", format="png", elem_id="vae-recon",
                                       elem_classes="crisp", interactive=False)
                numbers = gr.Markdown(elem_classes="numbers", elem_id="vae-numbers")
                with gr.Row():
                    use_a = gr.Button("use this image as interpolation A")
                    use_b = gr.Button("use this image as interpolation B")
        drawn, drawn_a, drawn_b = gr.State(None), gr.State(None), gr.State(None)

    with gr.Accordion("Can we generate with a plain autoencoder? (MNIST, 2-D codes)", open=False):
        ae_seed = gr.Number(0, label="seed", precision=0)
        ae_go = gr.Button("Decode 16 random z ~ N(0, I) with both")
        with gr.Row():
            ae_img = gr.Image(label="plain AE", format="png", elem_classes="crisp", interactive=False)
            vae_img = gr.Image(label="VAE", format="png", elem_classes="crisp", interactive=False)
        ae_note = gr.Markdown()

    # Sliders decode live while dragging; the marker on the map moves when the drag ends.
    for s in (z1, z2):
        s.input(decode, [z1, z2, ds], out, api_name="vae_decode" if s is z1 else False,
                show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)
        s.release(lambda d, u, v: maps(d, u, v)[1], [ds, z1, z2], enc_img, api_name=False, show_progress="hidden")
    ds.change(maps, [ds, z1, z2], [grid_img, enc_img, legend], api_name="vae_map").then(
        decode, [z1, z2, ds], out, api_name=False)
    for img in (grid_img, enc_img):
        img.select(click, ds, [z1, z2, out, enc_img], api_name=False, show_progress="hidden")
    inter = [ds, latent, a, b, steps, method, drawn_a, drawn_b]
    for c in (a, b, steps, method, latent):
        c.change(interpolate, inter, strip, api_name="vae_interpolate" if c is a else False,
                 show_progress="hidden")
    gallery.select(pick_endpoint, pick, [a, b], api_name=False)
    ds.change(lambda d: [image(im, 56) for im in data.test_sample(DATASETS[d])[0][:24]], ds, gallery, api_name=False)
    enc_in = [ds, latent, sketch, upload, seed]
    enc_out = [pre_img, rec_img, numbers, drawn]
    go.click(encode, enc_in, enc_out, api_name="vae_encode")
    upload.upload(encode, enc_in, enc_out, api_name=False)
    sketch.change(encode_drawing, enc_in, enc_out, api_name=False, trigger_mode="always_last",
                  show_progress="hidden")
    for btn, num, store in ((use_a, a, drawn_a), (use_b, b, drawn_b)):
        btn.click(use_drawing, drawn, [store, num], api_name=False).then(interpolate, inter, strip, api_name=False)
    ae_go.click(ae_vs_vae, ae_seed, [ae_img, vae_img, ae_note], api_name="vae_ae_vs_vae")
    demo.load(decode, [z1, z2, ds], out, api_name=False)
    demo.load(maps, [ds, z1, z2], [grid_img, enc_img, legend], api_name=False).then(
        interpolate, inter, strip, api_name=False).then(ae_vs_vae, ae_seed, [ae_img, vae_img, ae_note], api_name=False)
