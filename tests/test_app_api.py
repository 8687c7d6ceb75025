"""The app's API through gradio_client, against a launched `python app.py`."""
from __future__ import annotations

import base64
import io
import re
import time

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from gen import hub


def img(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_vae_decode_changes_with_z_and_is_crisp(client):
    a = img(client.predict(0.0, 0.0, "MNIST", api_name="/vae_decode"))
    b = img(client.predict(2.0, -1.5, "MNIST", api_name="/vae_decode"))
    assert a.shape == (336, 336)
    assert np.abs(a.astype(int) - b).mean() > 5
    # nearest-neighbour upscaling: every 12x12 block is one flat pixel
    assert (a[:12, :12] == a[0, 0]).all() and (a[12:24, 12:24] == a[12, 12]).all()


def test_vae_decode_is_deterministic(client):
    assert (img(client.predict(0.5, 0.5, "Fashion-MNIST", api_name="/vae_decode"))
            == img(client.predict(0.5, 0.5, "Fashion-MNIST", api_name="/vae_decode"))).all()


def test_vae_map(client):
    grid, scatter, legend = client.predict("Fashion-MNIST", 0.0, 0.0, api_name="/vae_map")
    assert img(grid).shape == (420, 420) and img(scatter).shape == (420, 420)
    assert "Sneaker" in legend


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_vae_interpolate(client, method):
    strip = img(client.predict("MNIST", "16-D latent (sharper)", 0, 1, 8, method, api_name="/vae_interpolate"))
    assert strip.shape[1] > 6 * strip.shape[0]  # a strip of 8 images


def test_vae_encode_upload_shows_terms(client, tmp_path):
    # a dark "1" on white paper, as a phone photo of a drawing would be
    a = np.full((200, 120, 3), 240, np.uint8)
    a[30:170, 55:70] = 20
    Image.fromarray(a).save(tmp_path / "one.png")
    pre, rec, md = client.predict("MNIST", "2-D latent", None, handle_file(tmp_path / "one.png"), 0,
                                  api_name="/vae_encode")
    assert img(pre).max() > 200 and img(pre)[0].max() == 0  # inverted to white-on-black
    assert "ELBO" in md and "KL" in md and "nats" in md and "inverted" in md


def test_vae_encode_rejects_non_images_clearly(client, tmp_path):
    (tmp_path / "flat.png").write_bytes(b"")
    Image.new("L", (64, 64), 255).save(tmp_path / "flat.png")
    with pytest.raises(Exception, match="empty"):
        client.predict("MNIST", "2-D latent", None, handle_file(tmp_path / "flat.png"), 0, api_name="/vae_encode")


def test_ae_vs_vae(client):
    ae, vae, note = client.predict(0, api_name="/vae_ae_vs_vae")
    assert img(ae).shape == img(vae).shape and "N(0, I)" in note


def test_ddpm_forward_closed_form_numbers(client):
    x_t, eps, md, strip, *_ = client.predict("MNIST", 0, None, "linear", 1000, 0, api_name="/ddpm_forward")
    assert "t = **1000**" in md and "SNR" in md
    # at t = T the image is (nearly) the noise itself
    assert np.abs(img(x_t).astype(int) - img(eps)).mean() < 3


def data_image(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_ddpm_reverse_steps(client):
    view = client.predict("MNIST", 7, api_name="/ddpm_reset")
    assert view["fps"] == 0 and view["frames"][-1]["t"] == 1000
    view = client.predict("beta", api_name="/ddpm_step10")
    f = view["frames"][-1]
    assert f["t"] == 990 and "Algorithm 2" in f["numbers"]
    assert all(data_image(f[k]).shape == (28, 28) for k in ("x_t", "eps", "x0_hat"))
    view = client.predict(100, "beta", api_name="/ddpm_jump")
    assert view["frames"][-1]["t"] == 100


def test_ddpm_play_streams_chunks_of_frames(client, app_url):
    from gradio_client import Client

    client.predict("MNIST", 3, api_name="/ddpm_reset")
    chunks = list(client.submit("beta", 25, api_name="/ddpm_play"))
    ts = [f["t"] for c in chunks for f in c["frames"]]
    assert ts == list(range(975, -1, -25))  # every 25th step, down to x_0
    assert all(c["fps"] > 0 for c in chunks) and len({c["play"] for c in chunks}) == 1
    assert data_image(chunks[-1]["frames"][-1]["x_t"]).std() > 20  # x_0 is an image, not flat
    # another visitor playing the same chain watches the film computed for the first: it comes at once, in
    # messages of many frames, and frame for frame the same
    other = Client(app_url, verbose=False)
    other.predict("MNIST", 3, api_name="/ddpm_reset")
    again = list(other.submit("beta", 25, api_name="/ddpm_play"))
    assert len(again) < len(chunks) and max(len(c["frames"]) for c in again) > 10
    assert [f for c in again for f in c["frames"]] == [f for c in chunks for f in c["frames"]]


def test_ddim_samples(client):
    det = img(client.predict("MNIST", 0, 10, api_name="/ddim_sample"))  # eta left out: 0, deterministic
    assert det.shape[0] >= 2 * (4 * 30 + 2)  # 4x4, 2x
    assert (det == img(client.predict("MNIST", 0, 10, 0.0, api_name="/ddim_sample"))).all()
    assert np.abs(det.astype(int) - img(client.predict("MNIST", 0, 10, 1.0, api_name="/ddim_sample"))).mean() > 3


def test_ddim_autoguidance_of_each_unconditional_model_and_off_at_w_0(client):
    def ddim(ds: str, ag: float, cls: str = "none") -> np.ndarray:
        return img(client.predict(ds, 0, 10, 0.0, cls, 1.0, ag, api_name="/ddim_sample"))
    shipped = img(client.predict("MNIST", 0, 10, api_name="/ddim_sample"))  # the API's default w: MNIST's shipped one
    assert (shipped == ddim("MNIST", hub.REGISTRY["ddpm-mnist"].guidance)).all()
    for ds, name in (("MNIST", "ddpm-mnist"), ("Fashion-MNIST", "ddpm-fashion")):
        shipped = ddim(ds, hub.REGISTRY[name].guidance)
        assert np.abs(shipped.astype(int) - ddim(ds, 0.0)).mean() > 1  # w = 0: plain DDIM, other samples
    assert (ddim("MNIST", 0.0, "3") == ddim("MNIST", 1.0, "3")).all()  # a class picked: CFG's model, not autoguided
    _, _, md = client.predict("MNIST", 0, 10, 0.0, "none", 1.0, 0.5, api_name="/ddpm_sample")
    assert "DDIM autoguided" in md and "0.5" in md
    _, _, md = client.predict("MNIST", 0, 10, 0.0, "none", 1.0, 0.0, api_name="/ddpm_sample")
    assert "autoguided" not in md


def test_fashion_algorithm_2_is_autoguided_at_low_t_only_and_off_at_w_0(client):
    """ddpm-fashion's chain ships autoguided while t <= t_max: above it a step is eps_theta alone; at and below it the
    frame shows eps_theta, eps_weak and their mix; w = 0 is the lecture's Algorithm 2."""
    w, t_max = hub.REGISTRY["ddpm-fashion"].chain_guidance
    client.predict("Fashion-MNIST", 5, api_name="/ddpm_reset")
    f = client.predict("beta", "none", 1.0, w, api_name="/ddpm_step1")["frames"][-1]
    assert f["t"] == 999 and "not guided here" in f["cfg"] and f["eps_c"] and f["eps_u"] is None
    assert "ε_weak(x_t, t), a small U-Net" in f["labels"]
    client.predict(t_max + 1, "beta", "none", 1.0, w, api_name="/ddpm_jump")
    f = client.predict("beta", "none", 1.0, w, api_name="/ddpm_step1")["frames"][-1]  # from t_max + 1: not guided
    assert f["t"] == t_max and f["eps_u"] is None
    f = client.predict("beta", "none", 1.0, w, api_name="/ddpm_step1")["frames"][-1]  # from t_max: guided
    assert f["t"] == t_max - 1 and f"w = <b>{w:g}</b>" in f["cfg"] and f"guided while t ≤ {t_max}" in f["cfg"]
    assert "‖ε_θ − ε_weak‖/28 = " in f["cfg"] and "· ε̃) + σ_t z" in f["numbers"]
    theta, weak, mix = (data_image(f[k]).astype(float) for k in ("eps_c", "eps_u", "eps"))
    assert theta.shape == weak.shape == mix.shape == (28, 28) and np.abs(theta - weak).mean() > 0
    f = client.predict("beta", "none", 1.0, 0.0, api_name="/ddpm_step1")["frames"][-1]  # w = 0: plain Algorithm 2
    assert f["eps_c"] is None and f["cfg"] == "" and "· ε_θ) + σ_t z" in f["numbers"]
    # Play from here (the film engine batches eps_theta and eps_weak across films, both in the step's one round) gives
    # what Jump gives from the same x_t
    frames = [f for c in client.submit("beta", 25, "none", 1.0, w, api_name="/ddpm_play") for f in c["frames"]]
    assert frames[-1]["t"] == 0 and all(f["eps_u"] for f in frames)
    client.predict("Fashion-MNIST", 5, api_name="/ddpm_reset")
    client.predict(t_max - 1, "beta", "none", 1.0, w, api_name="/ddpm_jump")
    client.predict("beta", "none", 1.0, 0.0, api_name="/ddpm_step1")
    jumped = client.predict(0, "beta", "none", 1.0, w, api_name="/ddpm_jump")["frames"][-1]
    assert (data_image(jumped["x_t"]) == data_image(frames[-1]["x_t"])).all()
    _, _, md = client.predict("Fashion-MNIST", 0, 10, 0.0, "none", 1.0, 0.0, w, api_name="/ddpm_sample")
    assert f"Algorithm 2 autoguided: ε̃ = (1 + {w:g}) ε_θ − {w:g} ε_weak while t ≤ {t_max}" in md


def test_ddpm_against_ddim_same_x_T_timed(client):
    a, b, md = client.predict("Fashion-MNIST", 1, 20, 1.0, api_name="/ddpm_sample")
    assert img(a).shape == img(b).shape and img(a).std() > 20 and img(b).std() > 20
    assert "1000 steps" in md and "20 steps" in md and "η = 1" in md and "faster" in md


def test_compare_tab_samples_each_family_with_time_and_figures(client):
    out = client.predict("MNIST", 0, api_name="/compare_sample")
    cards = out[1::2]
    assert len(cards) == 3
    for family, card in zip(("VAE", "GAN", "DDPM"), cards):
        assert card.startswith(f"### {family}") and " ms** for 16 samples" in card and "FID" in card
    assert "nats" in cards[0] and "none" in cards[1]


def test_compare_tab_conditional_samples_of_one_class(client):
    out = client.predict("MNIST", 0, "3", api_name="/compare_sample")
    vae, gan, ddpm = out[1::2]
    assert "no class-conditional VAE" in vae and out[0] is None
    for card, name in ((gan, "cgan-mnist"), (ddpm, "ddpm-cond-mnist")):
        assert f"`{name}`" in card and "FID" in card and "the classifier sees class 3 in" in card
        seen = int(card.split("sees class 3 in **")[1].split(" of")[0])
        assert seen >= 12, card  # a conditional model draws the class it is asked for


def test_gan_sample_seed_names_one_image(client):
    a, text = client.predict(42, "MNIST", api_name="/gan_sample")
    b, _ = client.predict(42, "MNIST", api_name="/gan_sample")
    c, _ = client.predict(43, "MNIST", api_name="/gan_sample")
    assert (img(a) == img(b)).all() and np.abs(img(a).astype(int) - img(c)).mean() > 5
    assert "D(G(z))" in text and img(a).shape == (336, 336)


def test_gan_grid_has_sixteen_seeds_with_verdicts(client):
    cells, title = client.predict(40, "Fashion-MNIST", api_name="/gan_grid")
    assert len(cells) == 16 and all(c["caption"].startswith("D=") for c in cells)


def test_gan_interpolate(client):
    strip, gif, text = client.predict(1, 2, "MNIST", 8, "spherical", api_name="/gan_interpolate")
    assert img(strip).shape[1] > 6 * img(strip).shape[0] and str(gif).endswith(".gif")


# ---- the class-conditional GAN (cgan-*) ----

def test_cgan_sample_one_seed_one_class(client):
    a, text = client.predict(42, 3, "MNIST", api_name="/cgan_sample")
    b, _ = client.predict(42, 8, "MNIST", api_name="/cgan_sample")
    assert "y = 3" in text and "D(G(z, y), y)" in text and img(a).shape == (224, 224)
    assert np.abs(img(a).astype(int) - img(b)).mean() > 5  # same z, another class: another image
    assert (img(a) == img(client.predict(42, 3, "MNIST", api_name="/cgan_sample")[0])).all()
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(42, 12, "MNIST", api_name="/cgan_sample")


def test_cgan_grid_rows_are_seeds_columns_are_classes(client):
    grid, md = client.predict(42, "MNIST", 3, api_name="/cgan_grid")
    g = img(grid)
    assert g.shape == (3 * 152, 3 * 302) and "seeds 42 … 46" in md  # 5 seeds x 10 classes of 28 px, pad 2, at 3x
    sample = img(client.predict(42, 3, "MNIST", api_name="/cgan_sample")[0])
    assert (g[6:90:3, 276:360:3] == sample[::8, ::8]).all()  # row 0, column 3 is seed 42's z with y = 3
    assert (g[:, 270:276] == 255).all() and (g[:, 360:366] == 255).all()  # the picked class's column is framed
    _, md = client.predict(0, "Fashion-MNIST", 0, api_name="/cgan_grid")
    assert "Sneaker" in md


def test_cgan_judge_right_and_wrong_label(client):
    x, md = client.predict(0, 1, "MNIST", api_name="/cgan_judge")
    assert img(x).shape == (224, 224) and "a **7**" in md
    right = float(re.search(r"7 \(right\) \| \*\*([\d.]+)", md).group(1))
    wrong = float(re.search(r"1 \(wrong\) \| \*\*([\d.]+)", md).group(1))
    assert right > wrong  # the projection term: a real 7 called a 1 looks less real to D
    _, md = client.predict(0, 7, "MNIST", api_name="/cgan_judge")  # its own label as the "wrong" one
    assert "own label" in md and "7 (right)" in md and "7 (wrong)" not in md


# ---- classifier-free guidance (ddpm-cond-*) ----

def test_ddpm_guided_chain_shows_both_predictions_and_their_mix(client):
    client.predict("MNIST", 5, "7", 2.0, api_name="/ddpm_reset")
    client.predict(600, "beta", "7", 2.0, api_name="/ddpm_jump")  # guided while t <= 600 (the model's interval)
    f = client.predict("beta", "7", 2.0, api_name="/ddpm_step10")["frames"][-1]
    assert f["t"] == 590 and "w = <b>2</b>" in f["cfg"] and "y = <b>7</b>" in f["cfg"] and "eq. 6" in f["cfg"]
    assert "· ε̃) + σ_t z" in f["numbers"] and "ε_θ" not in f["numbers"]  # Algorithm 2 runs on the guided ε̃
    c, u, g = (data_image(f[k]).astype(float) for k in ("eps_c", "eps_u", "eps"))
    assert c.shape == u.shape == g.shape == (28, 28) and "‖ε_c − ε_∅‖/28 = " in f["cfg"]
    # an unconditional chain carries no guidance parts
    client.predict("MNIST", 5, api_name="/ddpm_reset")
    f = client.predict("beta", api_name="/ddpm_step1")["frames"][-1]
    assert f["eps_c"] is None and f["cfg"] == "" and "· ε_θ) + σ_t z" in f["numbers"]


def test_fashion_guides_only_while_t_is_at_most_500(client):
    """ddpm-cond-fashion ships with a guidance interval: above t = 500 a step is the conditional model alone."""
    client.predict("Fashion-MNIST", 5, "7", 3.0, api_name="/ddpm_reset")
    f = client.predict("beta", "7", 3.0, api_name="/ddpm_step1")["frames"][-1]
    assert f["t"] == 999 and "not guided here" in f["cfg"] and f["eps_c"] and f["eps_u"] is None
    client.predict(501, "beta", "7", 3.0, api_name="/ddpm_jump")
    f = client.predict("beta", "7", 3.0, api_name="/ddpm_step1")["frames"][-1]  # the step from t = 501: not guided
    assert f["t"] == 500 and f["eps_u"] is None
    f = client.predict("beta", "7", 3.0, api_name="/ddpm_step1")["frames"][-1]  # from t = 500: guided, eq. 6
    assert f["t"] == 499 and "w = <b>3</b>" in f["cfg"] and "guided while t ≤ 500" in f["cfg"]
    assert data_image(f["eps_u"]).shape == (28, 28)


def test_ddpm_guided_row_and_class_samples(client):
    row, md = client.predict("MNIST", "3", 0, 20, api_name="/ddpm_guided_sample")
    h, w = img(row).shape[:2]
    assert 1.3 < w / h < 1.7 and "w = 8" in md and "Diversity" in md  # 4 rows (w = 0, 1, 3, 8) of 6 x_T
    a = img(client.predict("MNIST", 0, 10, 0.0, "3", 1.0, api_name="/ddim_sample"))
    b = img(client.predict("MNIST", 0, 10, 0.0, "8", 1.0, api_name="/ddim_sample"))
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() > 3  # the class changes the samples
    with pytest.raises(Exception, match="Pick a class"):
        client.predict("MNIST", "none", 0, 20, api_name="/ddpm_guided_sample")


def test_light_events_do_not_wait_behind_heavy_ones(app_url):
    from gradio_client import Client

    # fill the heavy lane (one worker per core) and its queue with 1000-step DDPM chains of fresh seeds...
    heavy = [Client(app_url, verbose=False).submit("MNIST", 9000 + i, 5, api_name="/ddpm_sample") for i in range(4)]
    time.sleep(0.5)
    # ...a VAE decode still answers at once, while they run
    light = Client(app_url, verbose=False)
    assert img(light.predict(1.0, 1.0, "MNIST", api_name="/vae_decode")).shape == (336, 336)
    assert not all(j.done() for j in heavy)
    assert all(len(j.result(timeout=300)) == 3 for j in heavy)
