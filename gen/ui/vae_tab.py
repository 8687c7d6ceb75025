"""The VAE tab: latent sliders, the 2-D latent map, interpolation, encode your own, AE vs VAE."""
from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import gradio as gr
import numpy as np
import torch

from gen import data
from gen.images import PALETTE, grid, pixel_to_latent, preprocess, scatter, to_float, to_uint8
from gen.latent import seed_to_z
from gen.ui import links
from gen.ui.common import DATASET, DATASETS, FAST, LAST_TEST, fmt, friendly, image, missing, model, readable_upload
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
    return to_float(x[data.test_index(DATASETS[ds], index)][None])


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


def gallery(ds: str) -> list[np.ndarray]:
    """The first test images, to pick interpolation endpoints from."""
    return [image(im, 56) for im in data.test_sample(DATASETS[ds])[0][:N_PICK]]


# --- layout: one helper a section, each returns its components --------------------------------------------------

MODELS = ["vae2-mnist", "vae2-fashion", "vae16-mnist", "vae16-fashion", "ae2-mnist"]
N_PICK = 24  # test images in the endpoint gallery
LATENTS = ["2-D latent", "16-D latent (sharper)"]
# The first values of the tab's controls, said once (the URL of a lecture link may set others).
A, B, STEPS, PATH, LATENT = 0, 1, 10, "linear", LATENTS[1]


def _main(v: SimpleNamespace) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            v.out = gr.Image(label="decoded g(z)", format="png", height=300,
                             elem_id="vae-decoded", elem_classes="crisp", interactive=False)
            v.z1 = gr.Slider(-R, R, 0, step=0.05, label="z1")
            v.z2 = gr.Slider(-R, R, 0, step=0.05, label="z2")
            v.ds = gr.Radio(list(DATASETS), value=DATASET, label="Dataset", elem_id="vae-dataset")
        with gr.Column(scale=1, min_width=300):
            v.grid_img = gr.Image(label="latent map: g(z) over [-3, 3]² (click to set z)", format="png",
                                  elem_id="vae-map", elem_classes="crisp", interactive=False, height=SHOW)
        with gr.Column(scale=1, min_width=300):
            v.enc_img = gr.Image(label="test images' μ(x), by class (click to set z)", format="png",
                                 elem_id="vae-scatter", interactive=False, height=SHOW)
            v.legend = gr.Markdown()
    gr.Markdown(INTRO, elem_classes="intro")  # below the main view, which must fit a 1280x720 projector


def _interpolation(v: SimpleNamespace) -> None:
    with gr.Accordion("Interpolation between two images", open=True):
        gr.Markdown("Encode two images to μ, walk between them in latent space, decode each step. "
                    "Click the gallery to pick, or use your own drawings (index −1, buttons in the section below).")
        with gr.Row():
            v.latent = gr.Radio(LATENTS, value=LATENT, label="VAE")
            v.a = gr.Number(A, label="image A (test index)", precision=0, minimum=-1, maximum=LAST_TEST)
            v.b = gr.Number(B, label="image B (test index)", precision=0, minimum=-1, maximum=LAST_TEST)
            v.steps = gr.Slider(2, 16, STEPS, step=1, label="steps")
            v.method = gr.Radio(["linear", "spherical"], value=PATH, label="path")
            v.pick = gr.Radio(["A", "B"], value="A", label="gallery click sets")
        v.gallery = gr.Gallery(columns=12, height=140, label=f"test images 0-{N_PICK - 1}", allow_preview=False)
        v.strip = gr.Image(label="interpolation strip", format="png", elem_id="vae-strip", elem_classes="crisp",
                           interactive=False)


def _encode_own(v: SimpleNamespace) -> None:
    with gr.Accordion("Encode your own", open=True):
        with gr.Row():
            with gr.Column():
                v.sketch = gr.Sketchpad(label="draw a digit", canvas_size=(280, 280), elem_id="vae-sketch",
                                        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"))
                # A file path, in its own mode (no RGB conversion): preprocess checks the size before decoding
                # and keeps transparency.
                v.upload = readable_upload(gr.Image(label="...or upload an image", type="filepath", image_mode=None,
                                                    sources=["upload", "clipboard"], height=200))
                v.seed = gr.Number(0, label="seed for ε", precision=0)
                v.go = gr.Button("Encode", variant="primary")
            with gr.Column():
                with gr.Row():
                    v.pre_img = gr.Image(label="preprocessed x (28×28)", format="png", elem_classes="crisp",
                                         interactive=False)
                    v.rec_img = gr.Image(label="reconstruction g(z)", format="png", elem_id="vae-recon",
                                         elem_classes="crisp", interactive=False)
                v.numbers = gr.Markdown(elem_classes="numbers", elem_id="vae-numbers")
                with gr.Row():
                    v.use_a = gr.Button("use this image as interpolation A")
                    v.use_b = gr.Button("use this image as interpolation B")
        v.drawn, v.drawn_a, v.drawn_b = gr.State(None), gr.State(None), gr.State(None)


def _ae_section(v: SimpleNamespace) -> None:
    with gr.Accordion("Can we generate with a plain autoencoder? (MNIST, 2-D codes)", open=False):
        v.ae_seed = gr.Number(0, label="seed", precision=0)
        v.ae_go = gr.Button("Decode 16 random z ~ N(0, I) with both")
        with gr.Row():
            v.ae_img = gr.Image(label="plain AE", format="png", elem_classes="crisp", interactive=False)
            v.vae_img = gr.Image(label="VAE", format="png", elem_classes="crisp", interactive=False)
        v.ae_note = gr.Markdown()


# --- wiring ----------------------------------------------------------------------------------------------------------

def _wire(v: SimpleNamespace) -> None:
    # Sliders decode live while dragging (the fast lane); the marker on the map moves when the drag ends, in the
    # queue, which also shows an error (weights gone) that the fast lane cannot.
    for s in (v.z1, v.z2):
        s.input(decode, [v.z1, v.z2, v.ds], v.out, api_name="vae_decode" if s is v.z1 else False, **FAST)
        s.release(lambda d, u, w: maps(d, u, w)[1], [v.ds, v.z1, v.z2], v.enc_img, api_name=False,
                  show_progress="hidden")
    for img in (v.grid_img, v.enc_img):
        img.select(click, v.ds, [v.z1, v.z2, v.out, v.enc_img], api_name=False, show_progress="hidden")
    inter = [v.ds, v.latent, v.a, v.b, v.steps, v.method, v.drawn_a, v.drawn_b]
    for c in (v.a, v.b, v.steps, v.method, v.latent):
        c.change(interpolate, inter, v.strip, api_name="vae_interpolate" if c is v.a else False,
                 show_progress="hidden")
    v.gallery.select(pick_endpoint, v.pick, [v.a, v.b], api_name=False)
    enc_in = [v.ds, v.latent, v.sketch, v.upload, v.seed]
    enc_out = [v.pre_img, v.rec_img, v.numbers, v.drawn]
    v.go.click(encode, enc_in, enc_out, api_name="vae_encode")
    v.upload.upload(encode, enc_in, enc_out, api_name=False)
    v.sketch.change(encode_drawing, enc_in, enc_out, api_name=False, trigger_mode="always_last",
                    show_progress="hidden")
    for btn, num, store in ((v.use_a, v.a, v.drawn_a), (v.use_b, v.b, v.drawn_b)):
        btn.click(use_drawing, v.drawn, [store, num], api_name=False).then(interpolate, inter, v.strip,
                                                                            api_name=False)
    v.ae_go.click(ae_vs_vae, v.ae_seed, [v.ae_img, v.vae_img, v.ae_note], api_name="vae_ae_vs_vae")


def _views(v: SimpleNamespace) -> list[dict]:
    """Everything that depends on the dataset, one handler a part: filled when the page opens (after a lecture
    link's values are set) and again when the dataset changes."""
    return [
        dict(fn=decode, inputs=[v.z1, v.z2, v.ds], outputs=v.out),
        dict(fn=maps, inputs=[v.ds, v.z1, v.z2], outputs=[v.grid_img, v.enc_img, v.legend], api_name="vae_map"),
        dict(fn=gallery, inputs=v.ds, outputs=v.gallery),
        dict(fn=interpolate, inputs=[v.ds, v.latent, v.a, v.b, v.steps, v.method, v.drawn_a, v.drawn_b],
             outputs=v.strip, show_progress="hidden"),
    ]


def build(demo: gr.Blocks) -> None:
    """The tab's components, its events, and its first view: filled on page load like every tab (links.on_load)."""
    gr.Markdown(missing(MODELS), elem_classes="banner")
    v = SimpleNamespace()
    for section in (_main, _interpolation, _encode_own, _ae_section):
        section(v)
    _wire(v)
    for view in _views(v):
        links.on_load("vae", **{**view, "api_name": False})
        v.ds.input(**{"api_name": False, **view})  # .input: a dataset set by a lecture link is drawn once, on load
    links.on_load("vae", ae_vs_vae, v.ae_seed, [v.ae_img, v.vae_img, v.ae_note], api_name=False)
    links.register("vae", ds=v.ds, z1=v.z1, z2=v.z2, latent=v.latent, a=v.a, b=v.b, steps=v.steps, path=v.method)
