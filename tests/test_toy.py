"""The training playground (gen/toy/ and its tab's handlers): data, one-line steps, learning, caps, frames, Play."""
import asyncio
import gc
import json
import threading
import time

import gradio as gr
import numpy as np
import pytest
import torch

from gen import diffusion, toy, work
from gen.ui import playground_tab as pg
from tests.conftest import run_async


def params(m: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ---- data ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [k for k in toy.DATASETS if k != "drawn"])
def test_data_sets_are_seeded_and_in_view(name):
    d = toy.make_data(name, 1000, seed=3)
    assert d.x.shape == (1000, 2) and d.x.dtype == torch.float32 and d.key.shape == (1000,)
    assert torch.equal(d.x, toy.make_data(name, 1000, seed=3).x)
    assert not torch.equal(d.x, toy.make_data(name, 1000, seed=4).x)
    assert (d.x.abs() < toy.R).all(1).float().mean() > 0.995  # (almost) everything is drawn inside the view
    assert 0 <= d.key.min() and d.key.max() < 1


def test_ring_has_eight_modes_and_coverage_counts_them():
    d = toy.make_data("ring", 4000, 0)
    c = toy.ring_coverage(d.x)
    assert c.modes == 8 and c.good > 0.98
    assert abs(c.share.sum() - c.good) < 1e-9
    one = toy.ring_coverage(torch.tensor(toy.ring_centres()[[2]]).float().repeat(100, 1))
    assert one.modes == 1 and one.good == 1.0


def test_drawn_data_and_errors():
    d = toy.make_data("drawn", 500, 0, points=[(1, 1), (-1, 0)], spread=0.05)
    near = torch.cdist(d.x, torch.tensor([[1.0, 1.0], [-1.0, 0.0]])).min(1).values
    assert (near < 0.3).all()
    with pytest.raises(ValueError, match="Draw some points"):
        toy.make_data("drawn", 500, 0, points=[])
    with pytest.raises(ValueError, match="unknown data set"):
        toy.make_data("banana", 500, 0)
    with pytest.raises(ValueError, match="N must be"):
        toy.make_data("ring", 3, 0)


def test_chamfer_small_for_the_same_distribution_large_for_a_collapse():
    a, b = toy.make_data("moons", 600, 0).x, toy.make_data("moons", 600, 1).x
    collapsed = a[:1].repeat(600, 1)
    assert toy.chamfer(a, b) < 0.15 < toy.chamfer(collapsed, b)


def test_the_chains_distance_to_the_data_is_the_chamfer_of_its_x0_computed_once_per_chain(monkeypatch):
    tr = toy.DDPMTrainer(toy.make_data("moons", 400, 0), T=20)
    chain = tr.chain(n=100)
    want = toy.chamfer(chain[0], tr.data.x[tr.view_idx])
    assert tr.chamfer_to_data(chain) == pytest.approx(want)
    calls = []
    monkeypatch.setattr("gen.toy.trainers.chamfer", lambda *a: calls.append(a) or 0.0)
    assert tr.chamfer_to_data(chain) == pytest.approx(want) and not calls  # the same chain: kept
    tr.step(1)
    assert tr.chamfer_to_data(tr.chain(n=100)) == 0.0 and len(calls) == 1  # a new chain: measured again


def test_playground_adam_is_fused_where_torch_has_it_and_plain_where_not(monkeypatch):
    from gen.toy import trainers
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert trainers._adam(params, 1e-3).defaults["fused"]  # torch 2.4+ on a CPU
    real = torch.optim.Adam

    def old_torch(p, fused=None, **kw):  # a torch without a fused CPU Adam refuses the argument
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real(p, **kw)

    monkeypatch.setattr(torch.optim, "Adam", old_torch)
    opt = trainers._adam(iter(params), 1e-3, betas=(0.5, 0.999))  # a generator, as .parameters() gives
    assert not opt.defaults["fused"] and opt.defaults["betas"] == (0.5, 0.999) and opt.param_groups[0]["params"]


# ---- GAN: Algorithm 1, one line at a time ----------------------------------------------------

def test_d_step_updates_only_d_and_g_step_only_g():
    tr = toy.GANTrainer(toy.make_data("ring", 500, 0), seed=0)
    g0, d0 = params(tr.G), params(tr.D)
    tr.d_step()
    g1, d1 = params(tr.G), params(tr.D)
    assert same(g0, g1) and not same(d0, d1)
    assert (tr.updates, tr.iterations, tr.last, tr.phase) == (1, 0, "d", 1)
    tr.g_step()
    g2, d2 = params(tr.G), params(tr.D)
    assert same(d1, d2) and not same(g1, g2)
    assert (tr.updates, tr.iterations, tr.last, tr.phase) == (2, 1, "g", 0)


def test_iteration_is_k_d_steps_then_one_g_step():
    tr = toy.GANTrainer(toy.make_data("ring", 500, 0), k=3)
    tr.d_step()  # one of the k = 3 D steps done by hand: the iteration finishes the other two
    tr.iteration()
    assert [h["kind"] for h in tr.history] == ["d", "d", "d", "g"]
    tr.step(2)
    assert tr.updates == 12 and tr.iterations == 3


def test_gan_uses_the_image_models_losses():
    from gen.gan import d_loss, g_loss

    tr = toy.GANTrainer(toy.make_data("ring", 500, 0), seed=1)
    rng = tr.rng.get_state()
    x, z = tr.sample_batch(), tr.noise()  # the minibatches d_step is about to draw
    with torch.no_grad():
        expect = float(d_loss(tr.D(x), tr.D(tr.G(z))))
    tr.rng.set_state(rng)
    assert tr.d_step()["d_loss"] == pytest.approx(expect, rel=1e-6)
    fake = tr.fakes()[:4]
    xg = fake.clone().requires_grad_(True)
    grad = torch.autograd.grad(g_loss(tr.D(xg), "non-saturating") * 4, xg)[0]
    assert torch.allclose(tr.generator_push(fake), -grad)  # the arrows: -d(per-sample G loss)/dx


def test_hyper_parameters_change_while_training():
    tr = toy.GANTrainer(toy.make_data("ring", 500, 0))
    tr.configure(lr_d=0.01, lr_g=0.003, k=2, loss="minimax")
    assert tr.opt_d.param_groups[0]["lr"] == 0.01 and tr.opt_g.param_groups[0]["lr"] == 0.003
    tr.configure(optimizer="SGD")
    assert isinstance(tr.opt_d, torch.optim.SGD) and tr.opt_d.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="unknown generator loss"):
        tr.configure(loss="wasserstein")
    with pytest.raises(ValueError, match="k must be"):
        tr.configure(k=0)


def test_gan_non_saturating_learns_the_ring():
    """Seeded: after 500 iterations the fakes sit near the data and reach several of the 8 modes."""
    tr = toy.GANTrainer(toy.make_data("ring", 2000, 0), loss="non-saturating", seed=0)
    before = toy.chamfer(tr.fakes(), tr.data.x[tr.view_idx])
    tr.step(500)
    after = toy.chamfer(tr.fakes(), tr.data.x[tr.view_idx])
    c = toy.ring_coverage(tr.fakes())
    assert after < 0.5 * before
    assert c.modes > 1
    g = [h["g_loss"] for h in tr.history if h["kind"] == "g"]
    assert np.mean(g[-100:]) < np.mean(g[:20])  # G's loss falls as its samples move onto the data


# ---- DDPM: Algorithm 1 and 2 with the image model's functions --------------------------------

def test_toy_schedules_reach_noise():
    for name in ("linear", "cosine"):
        sch = toy.toy_schedule(name, 100)
        assert sch.T == 100 and float(sch.alpha_bar[-1]) < 1e-3
    assert torch.equal(toy.toy_schedule("cosine", 50).beta, diffusion.make_schedule("cosine", 50).beta)
    with pytest.raises(ValueError):
        toy.toy_schedule("quadratic", 100)


def test_ddpm_learns_moons():
    tr = toy.DDPMTrainer(toy.make_data("moons", 2000, 0), T=100, seed=0)
    tr.step(30)
    early = toy.chamfer(tr.chain()[0], tr.data.x[tr.view_idx])
    tr.step(370)
    late = toy.chamfer(tr.chain()[0], tr.data.x[tr.view_idx])
    losses = [h["loss"] for h in tr.history]
    assert np.mean(losses[-50:]) < 0.8 * np.mean(losses[:20])  # L_simple falls
    assert late < 0.6 * early  # and the samples of Algorithm 2 move onto the data
    chain = tr.chain()
    assert chain.shape == (101, 400, 2)
    assert torch.equal(torch.tensor(chain[100]), diffusion.noise((400, 2), tr.chain_seed))  # x_T ~ N(0, I), seeded


def test_ddpm_is_deterministic_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    ref = torch.rand(3)
    torch.manual_seed(123)
    a = toy.DDPMTrainer(toy.make_data("ring", 500, 0), seed=5)
    a.step(5)
    assert torch.equal(torch.rand(3), ref)  # training drew nothing from the global RNG
    b = toy.DDPMTrainer(toy.make_data("ring", 500, 0), seed=5)
    b.step(5)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_forward_cloud_is_q_sample():
    tr = toy.DDPMTrainer(toy.make_data("spiral", 500, 0), T=100)
    x0 = tr.data.x[tr.view_idx]
    assert torch.equal(tr.forward_cloud(0), x0)
    assert torch.allclose(tr.forward_cloud(100), tr.view_eps, atol=0.05)  # sqrt(ab_T) ~ 0: pure noise


# ---- VAE ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("latent", [1, 2])
def test_vae_elbo_rises(latent):
    tr = toy.VAETrainer(toy.make_data("moons", 2000, 0), latent=latent, seed=0)
    tr.step(300)
    elbos = [h["elbo"] for h in tr.history]
    assert np.mean(elbos[-30:]) > np.mean(elbos[:10]) + 1.0
    assert all(h["elbo"] == pytest.approx(h["recon"] - h["kl"]) for h in tr.history[-5:])
    assert tr.codes().shape == (len(tr.view_idx), latent)


def test_vae_beta_trades_kl_for_reconstruction():
    lo = toy.VAETrainer(toy.make_data("ring", 2000, 0), beta=0.2, seed=0)
    hi = toy.VAETrainer(toy.make_data("ring", 2000, 0), beta=4.0, seed=0)
    lo.step(300)
    hi.step(300)
    mean = lambda tr, k: np.mean([h[k] for h in tr.history[-50:]])  # noqa: E731
    assert mean(hi, "kl") < mean(lo, "kl") and mean(hi, "recon") < mean(lo, "recon")


def test_gaussian_decoder_log_likelihood():
    from gen.vae import gaussian_log_likelihood

    x = torch.tensor([[1.0, 2.0]])
    assert float(gaussian_log_likelihood(x, x, s=1.0)) == pytest.approx(-np.log(2 * np.pi))
    assert float(gaussian_log_likelihood(x, x + torch.tensor([[0.1, 0.0]]), s=0.1)) == pytest.approx(
        -0.5 - np.log(2 * np.pi * 0.01))


# ---- caps, curves, frames, threads -----------------------------------------------------------

def test_cap_stops_training():
    tr = toy.VAETrainer(toy.make_data("moons", 500, 0))
    tr.updates = toy.CAP - 3
    tr.step(10)
    assert tr.updates == toy.CAP and tr.remaining() == 0
    with pytest.raises(ValueError, match="Reset"):
        tr.step(1)


def test_curves_are_binned():
    tr = toy.VAETrainer(toy.make_data("moons", 500, 0))
    tr.step(60)
    series = tr.curves({"recon": "r", "kl": "k"}, max_points=25)
    assert [s["label"] for s in series] == ["r", "k"]
    assert all(len(s["x"]) == len(s["y"]) == 25 and s["x"][-1] == 60 for s in series)
    assert series[1]["y"][-1] == pytest.approx(np.mean([h["kl"] for h in tr.history[-2:]]))  # a bin's mean


def test_settings_by_name():
    st = toy.GANSettings.parse("moons", "500", 3, 2, 0.01, 0.001, "SGD", 2, "minimax", 7)
    assert st.n == 500 and st.lr_d == 0.01 and st.k == 2 and st.key() == ("moons", 500, 3, 2)
    assert toy.DDPMSettings.names()[:3] == ["data", "n", "seed"] and "T" in toy.DDPMSettings.RESETS
    tr = st.build(toy.make_data(st.data, st.n, st.seed))
    assert tr.optimizer == "SGD" and tr.k == 2 and tr.loss == "minimax"
    with pytest.raises(ValueError, match="'lr_d' needs a number"):
        toy.GANSettings.parse("moons", 500, 3, 2, None, 0.001, "SGD", 2, "minimax", 7)
    with pytest.raises(ValueError, match="expected 8 settings"):
        toy.VAESettings.parse("moons")


def test_frames_are_numbers():
    gan = toy.GANTrainer(toy.make_data("ring", 500, 0))
    ddpm = toy.DDPMTrainer(toy.make_data("moons", 500, 0), T=50)
    vae = toy.VAETrainer(toy.make_data("moons", 500, 0), latent=1)
    for tr in (gan, ddpm, vae):
        tr.step(3)
    views = [toy.frames.gan(gan, 420), toy.frames.ddpm(ddpm, 25, ddpm.chain(), 420), toy.frames.vae(vae, 400, 280)]
    for f in views:
        back = json.loads(toy.frames.to_json(f))  # plain JSON, no NaN
        for p in back["panels"]:
            assert p["w"] > 0 and p["r"] == toy.R and p["layers"]
            for layer in p["layers"]:
                if "dots" in layer:
                    assert len(layer["dots"]) % 2 == 0 and len(layer["dots"]) > 0
    layers = views[0]["panels"][0]["layers"]
    heat = next(layer for layer in layers if "heat" in layer)
    assert len(__import__("base64").b64decode(heat["heat"])) == heat["n"] ** 2  # D(x) on an n x n grid
    assert len(next(layer for layer in layers if "arrows" in layer)["arrows"]) == 40 * 4  # G's push on 40 fakes
    assert len(views[2]["panels"]) == 2  # data and latent space
    chart = toy.frames.chart("loss", "updates", gan.curves({"d_loss": "D"}))
    assert chart["series"][0]["color"] and chart["series"][0]["x"][-1] == gan.updates


def test_drawing_canvas():
    im = toy.drawing.data_view([(0, 0)], size=200)
    assert im.dtype == np.uint8 and im.shape == (200, 200, 3) and im.std() > 5
    assert toy.drawing.from_px(100, 0, 200) == (0.0, toy.R)


def test_one_thread_is_per_thread():
    outer = torch.get_num_threads()
    seen = {}

    def other():
        seen["other"] = torch.get_num_threads()

    with work.one_thread():
        seen["inside"] = torch.get_num_threads()
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert torch.get_num_threads() == outer
    if work._libgomp() is not None:
        assert seen["inside"] == 1
    assert seen["other"] == outer


# ---- the tab's handlers, without a browser ---------------------------------------------------

GAN_HP = ["ring", 500, 0, 2, 1e-3, 1e-3, "Adam", 1, "non-saturating", 5]
DDPM_HP = ["moons", 500, 0, "linear", 50, 3e-3, 5]
VAE_HP = ["moons", 500, 0, 2, 3e-3, 1.0, 0.1, 5]
OUT = {name: i for i, name in enumerate(pg.OUTPUTS)}  # a frame's outputs by name; the state comes last


def test_tab_step_buttons_do_one_update():
    frame = pg.gan_reset(None, *GAN_HP)
    box = frame[-1]
    assert len(frame) == len(pg.OUTPUTS) + 1 and json.loads(frame[OUT["view"]])["panels"]
    g0, d0 = params(box.gan.G), params(box.gan.D)
    frame = pg.gan_d_step(box, *GAN_HP)
    assert frame[OUT["count"]] == 1 and same(g0, params(box.gan.G)) and not same(d0, params(box.gan.D))
    alg = frame[OUT["algorithm"]]
    assert "background:rgba(255,196,0" in alg.split("update D")[0].rsplit("<div", 1)[1]  # line 5 lit
    d1 = params(box.gan.D)
    frame = pg.gan_g_step(box, *GAN_HP)
    assert frame[OUT["count"]] == 2 and same(d1, params(box.gan.D)) and not same(g0, params(box.gan.G))
    frame = pg.gan_iteration(box, *GAN_HP)
    assert frame[OUT["count"]] == 4


def test_tab_settings_rebuild_or_reconfigure():
    box = pg.gan_d_step(None, *GAN_HP)[-1]
    model = box.gan
    pg.gan_configure(box, *GAN_HP[:4], 1e-2, *GAN_HP[5:])  # a learning rate: same model, new lr
    assert box.gan is model and model.lr_d == 1e-2
    pg.gan_d_step(box, "moons", *GAN_HP[1:])  # other data: a new model
    assert box.gan is not model and box.gan.data.name == "moons" and box.gan.updates == 1
    assert all(v is not None for v in pg.gan_configure(None, *GAN_HP))  # no model yet: nothing changes


def test_user_errors_are_messages_without_traceback():
    with pytest.raises(gr.Error, match="Draw some points") as e:
        pg.vae_step(pg.Playground(), 10, "drawn", *VAE_HP[1:])
    assert e.value.print_exception is False
    with pytest.raises(gr.Error, match="N must be between") as e:
        pg.ddpm_reset(None, "moons", 3, *DDPM_HP[2:])
    assert e.value.print_exception is False
    box = pg.vae_reset(None, *VAE_HP)[-1]
    box.vae.updates = toy.CAP
    with pytest.raises(gr.Error, match="Reset") as e:
        pg.vae_step(box, 1, *VAE_HP)
    assert e.value.print_exception is False


async def collect(agen, n: int | None = None, seconds: float = 30) -> list:
    out, t0 = [], time.monotonic()
    try:
        async for o in agen:
            out.append(o)
            if (n and len(out) >= n) or time.monotonic() - t0 > seconds:
                break
    finally:
        await agen.aclose()
    return out


def wait_idle(seconds: float = 2) -> bool:
    t0 = time.monotonic()
    while pg.POOL.active and time.monotonic() - t0 < seconds:
        time.sleep(0.01)
    return pg.POOL.active == 0


def test_tab_play_streams_and_stops_at_the_cap(monkeypatch):
    monkeypatch.setattr(pg, "FPS", 1000)
    monkeypatch.setattr(pg, "TEXT_EVERY", 0.0)
    box = pg.vae_reset(None, *VAE_HP)[-1]
    box.vae.updates = toy.CAP - 12
    frames = run_async(collect(pg.vae_play(box, *VAE_HP)))
    assert box.vae.updates == toy.CAP
    counts = [f[OUT["count"]] for f in frames if isinstance(f[OUT["count"]], int)]
    assert counts[0] == toy.CAP - 12 and counts[-1] == toy.CAP and counts == sorted(counts)
    assert "cap" in frames[-1][OUT["numbers"]]
    assert all(isinstance(f[OUT["view"]], str) for f in frames)  # the view goes out with every frame
    assert wait_idle()


def test_tab_play_throttles_text_but_not_the_view(monkeypatch):
    monkeypatch.setattr(pg, "FPS", 1000)
    monkeypatch.setattr(pg, "TEXT_EVERY", 1e9)  # text only with the first frame
    box = pg.gan_reset(None, *GAN_HP)[-1]
    frames = run_async(collect(pg.gan_play(box, *GAN_HP), 4))
    assert len({f[OUT["view"]] for f in frames}) == 4  # a new view each frame
    assert isinstance(frames[0][OUT["numbers"]], str)
    assert all(f[OUT["numbers"]] == frames[0][OUT["numbers"]] for f in frames[1:])  # as first sent: not redone


def test_a_play_message_carries_every_frame_since_the_last(monkeypatch):
    monkeypatch.setattr(pg, "FPS", 50)
    monkeypatch.setattr(pg, "MESSAGE_EVERY", 0.3)
    box = pg.gan_reset(None, *GAN_HP)[-1]
    t0 = time.monotonic()
    msgs = run_async(collect(pg.gan_play(box, *GAN_HP), 4))
    dt = time.monotonic() - t0
    films = [json.loads(m[OUT["view"]]) for m in msgs]
    assert len(films[0]["frames"]) == 1  # the first frame goes out at once, alone
    assert all(len(f["frames"]) > 1 for f in films[1:])  # then several frames a message, painted one by one
    assert all(f["frames"][0]["panels"] and 1 <= f["fps"] <= 50 for f in films)
    assert len({f["play"] for f in films}) == 1 and dt >= 3 * 0.3 - 0.05  # one Play; messages MESSAGE_EVERY apart
    assert msgs[0][-1] is box and all(not isinstance(m[-1], pg.Playground) for m in msgs[1:])  # the state once
    counts = [m[OUT["count"]] for m in msgs]
    assert all(isinstance(c, int) for c in counts) and counts == sorted(counts)
    assert wait_idle()


def test_feed_keeps_the_latest_frames_and_merges_the_rest(monkeypatch):
    monkeypatch.setattr(pg, "FPS", 10)
    monkeypatch.setattr(pg, "MESSAGE_EVERY", 0.5)  # keeps 2 * 10 * 0.5 = 10 views
    feed = pg.Feed()
    for i in range(25):
        feed.put({"view": f"{{\"i\":{i}}}", "count": i, **({"numbers": "n"} if i == 3 else {})})
    parts = feed.take()
    assert [json.loads(v)["i"] for v in parts["views"]] == list(range(15, 25))  # older views dropped
    assert parts["count"] == 24 and parts["numbers"] == "n" and 1 <= parts["fps"] <= 10
    assert not feed.pending and feed.take() == {}
    film = json.loads(pg._film(dict(parts), 7)["view"])
    assert [f["i"] for f in film["frames"]] == list(range(15, 25)) and film["play"] == 7


def test_closing_a_play_cancels_its_pool_job():
    box = pg.ddpm_reset(None, *DDPM_HP)[-1]
    agen = pg.ddpm_play(box, *DDPM_HP)

    async def two_then_close():
        await agen.__anext__()
        await agen.__anext__()
        assert pg.POOL.active == 1  # the job trains while the handler waits
        await agen.aclose()  # what Gradio does on Pause (cancels=) or when the page goes away
    run_async(two_then_close())
    assert wait_idle()
    n = box.ddpm.updates
    time.sleep(0.2)
    assert box.ddpm.updates == n  # no slice ran after the cancel


def test_play_and_step_buttons_never_update_at_once():
    box = pg.gan_reset(None, *GAN_HP)[-1]

    async def play_while_stepping():
        agen = pg.gan_play(box, *GAN_HP)
        await agen.__anext__()
        for _ in range(5):
            await asyncio.to_thread(pg.gan_d_step, box, *GAN_HP)  # holds the session's lock: Play's slices wait
            await asyncio.sleep(0.01)
        await agen.aclose()
    run_async(play_while_stepping())
    assert wait_idle()
    assert box.gan.updates == len(box.gan.history)  # every update recorded once: no interleaved half-steps


def test_play_with_bad_settings_is_a_user_error():
    with pytest.raises(gr.Error, match="'k' needs a whole number"):
        run_async(collect(pg.gan_play(None, *GAN_HP[:7], "x", *GAN_HP[8:])))
    with pytest.raises(gr.Error, match="Draw some points"):  # raised in the pool job, reported by the handler
        run_async(collect(pg.gan_play(pg.Playground(), "drawn", *GAN_HP[1:])))
    assert wait_idle()


def test_tab_ddpm_sample_animates_down_to_zero(monkeypatch):
    monkeypatch.setattr(pg, "FPS", 1000)
    box = pg.ddpm_step(None, 10, *DDPM_HP)[-1]
    frames = run_async(collect(pg.ddpm_sample(box, *DDPM_HP)))
    ts = [f[-1] for f in frames]  # the t of each message's last frame
    assert ts[-1] == 0 and ts == sorted(ts, reverse=True)
    films = [json.loads(f[OUT["view"]])["frames"] for f in frames]
    assert sum(map(len, films)) == 51  # every t from T = 50 down to 0 shown once, in films of one or more frames
    assert box.ddpm.updates == 10  # sampling does not train


def test_tab_drawing_feeds_the_models():
    box = pg.Playground()
    with pytest.raises(Exception, match="Draw some points"):
        pg.gan_reset(box, "drawn", *GAN_HP[1:])
    box = pg.draw_edit(box, 0.1, "ring")[-1]
    assert len(box.points) == 24
    frame = pg.vae_step(box, 1, "drawn", *VAE_HP[1:])
    assert box.vae.data.name == "drawn" and frame[OUT["count"]] == 1
    box = pg.draw_edit(box, 0.1, "undo")[-1]
    pg.vae_step(box, 1, "drawn", *VAE_HP[1:])
    assert box.vae.updates == 1  # the drawing changed: a new model


def test_state_summary():
    box = pg.gan_d_step(None, *GAN_HP)[-1]
    s = pg.state(box)
    assert s["gan"]["updates"] == 1 and s["gan"]["last_line"] == "d" and s["ddpm"] is None
    assert s["gan"]["hparams"]["loss"] == "non-saturating" and "modes" in s["gan"]
    assert s["gan"]["stats"]["g_loss"] is None  # no G step yet: null, not NaN (JSON has no NaN)
    json.dumps(s, allow_nan=False)


def test_a_class_of_untrained_models_shares_one_chain():
    """40 students opening the playground on the same settings have the same untrained model: one chain for all."""
    data = toy.make_data("spiral", 500, 0)
    a, b = (toy.DDPMTrainer(data, T=50, seed=3) for _ in range(2))
    assert a.chain() is b.chain()  # computed once, shared (read-only)
    assert not a.chain().flags.writeable
    b.step(1)  # b learned something: its own chain
    assert b.chain() is not a.chain() and not np.allclose(b.chain()[0], a.chain()[0])


def test_the_playground_process_serves_each_visitor_and_forgets_them_with_their_session():
    """As wired in the app: handlers run in the playground's process (gen.remote) on each Session's own models."""
    def status() -> dict:
        return pg.ENGINE.call("engine_status").result(timeout=120)

    async def go():
        t0 = time.monotonic()  # earlier tests' Plays in this shared process may still be ending (a loaded CI box)
        while status()["pool_jobs"]:
            assert time.monotonic() - t0 < 60, "earlier tests' pool jobs never ended"
            await asyncio.sleep(0.05)
        a, b = pg.Session(), pg.Session()
        step = pg.remote(pg.vae_step)
        out = await step(a, 3, *VAE_HP)
        assert out[OUT["count"]] == 3 and out[-1] is a  # the state output is the visitor's Session
        assert (await step(b, 1, *VAE_HP))[OUT["count"]] == 1  # b's models are not a's
        assert (await step(a, 1, *VAE_HP))[OUT["count"]] == 4
        with pytest.raises(gr.Error, match="Draw some points") as e:  # a user error: the message, no traceback
            await step(a, 1, "drawn", *VAE_HP[1:])
        assert e.value.print_exception is False
        agen = pg.remote(pg.vae_play)(a, *VAE_HP)
        first = await agen.__anext__()
        await agen.__anext__()
        assert first[-1] is a and status()["pool_jobs"] == 1  # trains in the process's pool
        await agen.aclose()  # Pause, or the page closed
        t0 = time.monotonic()
        while status()["pool_jobs"]:
            assert time.monotonic() - t0 < 5, "the Play's pool job went on after its stream closed"
            await asyncio.sleep(0.02)
        n = status()["sessions"]
        del a, first, out, e, agen
        gc.collect()  # Gradio dropped the session's state: its Playground goes too
        while status()["sessions"] != n - 1:
            assert time.monotonic() - t0 < 10, "the dropped session's models were kept"
            await asyncio.sleep(0.02)
    run_async(go())


def test_first_view_is_drawn_here_once_for_everyone(monkeypatch):
    """A page's first view of each family (step 0 for the settings shown) waits for nobody: it does not go through
    the playground's process (which may still be starting, and a late one would stop a Play pressed meanwhile),
    and it is computed once for every visitor."""
    class Unreachable:
        def __getattr__(self, name):
            raise AssertionError("the first view went to the playground's process")
    monkeypatch.setattr(pg, "ENGINE", Unreachable())
    first = pg.first_view(pg.DDPM)(*DDPM_HP)
    local = pg.ddpm_reset(pg.Playground(), *DDPM_HP)
    assert first[:-1] == local[:-1] and first[-1] == gr.skip()  # Reset's frame; no session state yet
    assert first[OUT["count"]] == 0 and json.loads(first[OUT["view"]])["panels"]
    assert pg.first_view(pg.DDPM)(*DDPM_HP)[OUT["view"]] is first[OUT["view"]]  # shared, not recomputed
