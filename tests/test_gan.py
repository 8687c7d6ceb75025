"""GAN (lecture section 3): minimax, non-saturating and hinge losses, one step of Algorithm 1, the conditional GAN
(projection discriminator), shipped checkpoints."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from gen import data, gan, hub
from gen.evaluate import features_and_labels
from gen.gan import Discriminator, Generator, d_loss, g_loss
from gen.images import to_uint8
from gen.latent import lerp, seed_to_z, seeds_to_z, slerp
from gen.sample import generate


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    G, D = Generator(z_dim=16, width=8).eval(), Discriminator(width=8).eval()
    g = torch.Generator().manual_seed(1)
    real = torch.rand(16, 1, 28, 28, generator=g) * 2 - 1
    z = torch.randn(16, 16, generator=g)
    return G, D, real, z


def test_seed_to_z_consistent():
    a = seed_to_z(5, 64)
    assert torch.equal(a, seed_to_z(5, 64))
    assert torch.equal(seeds_to_z([5, 6, 7], 64)[0], a[0])
    assert torch.equal(seeds_to_z([6, 5], 64)[1], a[0])
    assert not torch.equal(a, seed_to_z(6, 64))


def test_shapes_and_ranges(tiny):
    G, D, real, z = tiny
    x = G(z * 20)  # even extreme z stay inside tanh's range
    assert x.shape == (16, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (16,)
    p = D.prob(torch.cat([real, x]))
    assert p.shape == (32,) and (p > 0).all() and (p < 1).all()
    torch.testing.assert_close(p[:16], torch.sigmoid(D(real)))


def test_losses_by_hand():
    torch.manual_seed(0)
    r, f = torch.randn(10, dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(r), torch.sigmoid(f)  # D(x), D(G(z))
    torch.testing.assert_close(d_loss(r, f), -(d_real.log().mean() + (1 - d_fake).log().mean()))
    torch.testing.assert_close(g_loss(f, "minimax"), (1 - d_fake).log().mean())
    torch.testing.assert_close(g_loss(f, "non-saturating"), -d_fake.log().mean())
    torch.testing.assert_close(g_loss(f), -d_fake.log().mean())  # the default
    # minimax saturates where D rejects the fakes: its gradient is much smaller than the non-saturating one
    rejected = torch.full((1,), -6.0, requires_grad=True)
    (gm,) = torch.autograd.grad(g_loss(rejected, "minimax"), rejected)
    (gn,) = torch.autograd.grad(g_loss(rejected, "non-saturating"), rejected)
    assert gm.abs() * 100 < gn.abs()


def test_d_step_lowers_d_loss(tiny):
    G, D, real, z = tiny
    opt = torch.optim.SGD(D.parameters(), lr=1e-2)
    with torch.no_grad():
        fake = G(z)

    def loss():
        return d_loss(D(real), D(fake))

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item() - 1e-4


@pytest.mark.parametrize("kind", ["minimax", "non-saturating"])
def test_g_step_lowers_g_loss(tiny, kind):
    G, D, _, z = tiny
    opt = torch.optim.SGD(G.parameters(), lr=0.1)

    def loss():
        return g_loss(D(G(z)), kind)

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item() - 1e-4


def test_interpolation_endpoints(tiny):
    G, _, _, _ = tiny
    z0, z1 = seed_to_z(0, 16)[0], seed_to_z(1, 16)[0]
    with torch.no_grad():
        for f in (lerp, slerp):
            x = G(f(z0, z1, 7))
            torch.testing.assert_close(x[0], G(z0[None])[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(x[-1], G(z1[None])[0], atol=1e-5, rtol=0)
            assert not torch.allclose(x[3], x[0], atol=1e-3)


def test_shipped_checkpoints():
    G, D = hub.load("gan-mnist"), hub.load("gan-mnist-D")
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    assert not G.training and not D.training
    with torch.no_grad():
        x = G(seed_to_z(0, G.z_dim, 4))
    assert x.shape == (4, 1, 28, 28)
    a = generate("gan-mnist", 8, seed=3)
    assert a.shape == (8, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, generate("gan-mnist", 8, seed=3))
    assert not np.array_equal(a, generate("gan-mnist", 8, seed=4))
    assert a.std() > 20  # images, not a flat field


def test_hinge_loss_closed_form():
    r = torch.tensor([2.0, 0.5, -1.0])  # D's logits on real images
    f = torch.tensor([-2.0, 0.0, 1.5])  # on fakes
    # D: mean relu(1 - r) = (0 + 0.5 + 2) / 3, mean relu(1 + f) = (0 + 1 + 2.5) / 3
    torch.testing.assert_close(d_loss(r, f, "hinge"), torch.tensor(2.5 / 3 + 3.5 / 3))
    torch.testing.assert_close(g_loss(f, "hinge"), torch.tensor(0.5 / 3))  # -mean(f)
    # logits beyond the margin cost D nothing
    assert d_loss(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -4.0]), "hinge") == 0


def test_mode_seeking_closed_form():
    fake = torch.cat([torch.zeros(2, 1, 28, 28), torch.full((2, 1, 28, 28), 0.5)])  # |G(z1, y) - G(z2, y)| = 0.5
    z = torch.cat([torch.zeros(2, 4), torch.full((2, 4), 2.0)])  # |z1 - z2| = 2
    torch.testing.assert_close(gan.mode_seeking(fake, z), torch.tensor(1 / (0.25 + 1e-5)))


@pytest.fixture
def ctiny():
    torch.manual_seed(0)
    return Generator(z_dim=16, width=8, num_classes=10).eval(), Discriminator(width=8, num_classes=10, sn=True).eval()


def test_conditional_g_separates_z_and_y(ctiny):
    G, _ = ctiny
    z = seed_to_z(7, 16).expand(10, -1)  # one z, y = 0..9
    with torch.no_grad():
        x = G(z, torch.arange(10))
        again = G(seed_to_z(7, 16).expand(10, -1), torch.arange(10))
    assert torch.equal(x, again)  # the same (z, y), the same image
    diffs = (x[:, None] - x[None]).abs().flatten(2).mean(2)
    assert (diffs + torch.eye(10) > 1e-3).all()  # every class gives a different image
    rows = gan.style_class_grid(G, [7, 8])
    assert rows.shape == (2, 10, 28, 28) and (rows[0] == to_uint8(x, signed=True)).all()
    assert [gan.check_class(c) for c in (0, 9.0, "3")] == [0, 9, 3]
    for bad in (None, -1, 10, 2.5, float("nan"), "seven"):
        with pytest.raises(ValueError, match="Pick a class"):
            gan.check_class(bad)


@pytest.mark.parametrize("sn", [False, True])
def test_projection_d_uses_y(sn):
    torch.manual_seed(0)
    D = Discriminator(width=8, num_classes=10, sn=sn).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    y, y2 = torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5, 5, 5])
    with torch.no_grad():
        a, b, phi = D(x, y), D(x, y2), D.net[:-1](x)
        # logit = psi(phi(x)) + <embed(y), phi(x)>: changing y moves it by <embed(y) - embed(y'), phi(x)>
        torch.testing.assert_close(a - b, ((D.embed(y) - D.embed(y2)) * phi).sum(1))
        torch.testing.assert_close(a, D.net[-1](phi).squeeze(1) + (D.embed(y) * phi).sum(1))
    assert (a - b).abs().min() > 1e-4
    assert D.prob(x, y).shape == (4,)


def test_spectral_norm_replaces_batchnorm():
    D = Discriminator(width=8, num_classes=10, sn=True).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    for _ in range(30):  # power iterations, one per training-mode forward
        D(torch.randn(2, 1, 28, 28), torch.tensor([0, 1]))
    with torch.no_grad():
        sigma = torch.linalg.matrix_norm(D.net[2].weight.flatten(1), 2)
    assert abs(float(sigma) - 1) < 0.05


@pytest.mark.parametrize("name", ["gan-minimax-mnist", "gan-minimax-fashion", "cgan-fashion", "cgan-fashion-D"])
def test_old_configs_build_todays_modules(name):
    folder = hub.checkpoint_dir() / name
    # a config as written before conditional, spectral-norm and deep GANs existed (older Hub copies have these; the
    # shipped gan-mnist and gan-fashion are deep since, so their own configs are needed to build them)
    stored_config = json.loads((folder / "config.json").read_text())
    dropped = ("sn", "deep", "num_classes") if name.startswith("gan") else ("sn", "deep")  # cgan: conditional already
    config = {k: v for k, v in stored_config.items() if k not in dropped}
    model = hub.REGISTRY[name].model_class(**config)
    stored = load_file(folder / "model.safetensors")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: tuple(v.shape) for k, v in stored.items()}
    k = stored_config.get("num_classes", 0)
    assert model.num_classes == k and hasattr(model, "embed") == (k > 0)


def test_deep_gan_adds_a_convolution_at_each_resolution():
    g, d = Generator(16, 8, deep=True), Discriminator(8, deep=True)
    shallow = Generator(16, 8), Discriminator(8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 1, 28, 28) and d(x).shape == (3,)
    convs = [sum(isinstance(m, nn.Conv2d) for m in net.modules()) for net in (g, d, *shallow)]
    assert convs == [2, 4, 0, 2]  # G: 3x3 at 7x7 and 14x14; D: its two strided convolutions plus one 3x3 each


@pytest.mark.parametrize("ds, label", [("mnist", 3), ("fashion", 1)])
def test_shipped_conditional_gan_draws_the_asked_class(ds, label):
    G, D = hub.load(f"cgan-{ds}"), hub.load(f"cgan-{ds}-D")
    assert G.num_classes == D.num_classes == 10
    a = generate(f"cgan-{ds}", 30, seed=1, label=label)
    assert np.array_equal(a, generate(f"cgan-{ds}", 30, seed=1, label=label))
    _, pred = features_and_labels(hub.load(f"classifier-{ds}"), a)
    assert (pred == label).mean() >= 0.9, pred
    # the matching-aware D prefers a real image with its own label to the same image with a wrong one
    x, y = data.test_sample(ds)
    right = np.array([gan.judge_labels(D, x[i])[y[i]] for i in range(50)])
    wrong = np.array([gan.judge_labels(D, x[i])[(y[i] + 1) % 10] for i in range(50)])
    assert (right > wrong).mean() > 0.8, (right, wrong)


def test_diff_augment_shifts_and_cuts_differentiably():
    torch.manual_seed(0)
    x = -torch.ones(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1  # an 8x8 square, 3 px or more from every edge
    shifted = gan.diff_augment(x, cutout=0)
    assert shifted.shape == x.shape and ((shifted == 1).sum((1, 2, 3)) == 64).all()  # moved whole, not cropped
    assert len({tuple(torch.nonzero(s[0] == 1)[0].tolist()) for s in shifted}) > 1  # to different places
    assert ((shifted == 1) | (shifted == -1)).all()  # the background fills in
    cut = gan.diff_augment(torch.ones(8, 1, 28, 28), translate=0)
    assert ((cut == 0).sum((1, 2, 3)) <= 13 * 13).all() and (cut == 0).any() and (cut == 1).any()
    z = torch.randn(4, 1, 28, 28, requires_grad=True)
    gan.diff_augment(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # G gets gradients through it


def test_recipe_names_every_trick_in_the_lectures_terms():
    r = gan.recipe({"loss": "hinge", "k": 1, "lr": 1e-4, "lr_d": 4e-4, "ema": 0.999, "diffaug": True,
                    "spectral_norm": False, "epochs_done": 400, "hardware": "CPU"})
    assert "hinge loss" in r and "two time-scale learning rates (G 0.0001, D 0.0004)" in r
    assert "moving average of G's weights (decay 0.999)" in r and "DiffAugment" in r and "spectral" not in r
    assert "400 epochs on CPU" in r and "3x3" in gan.recipe({"deep": True})
    assert "minimax loss" in gan.recipe({"loss": "minimax", "k": 2}) and "k = 2 D steps" in gan.recipe({"k": 2})
    assert gan.recipe({"loss": "hinge", "continued_from": "the non-saturating GAN"}).endswith(
        "continued from the non-saturating GAN")  # a recipe changed along the way says what came first
    assert gan.recipe({}) == ""  # no training.json: nothing to say
    assert "matching-aware D" in gan.recipe({"mismatch": True, "mode_seeking": 0.1}) and "weight 0.1" in gan.recipe(
        {"mode_seeking": 0.1})
    soup = gan.recipe({"dataset": "fashion", "oversample": "6:3", "soup": "0.5 x (a) + 0.5 x (b)"})
    assert "class Shirt repeated 3x among D's real images" in soup and soup.endswith(
        "shipped as a model soup, the weighted average of 0.5 x (a) + 0.5 x (b)")
    lineage = gan.recipe({"dataset": "fashion", "continued_from": "epochs 0-60 on CPU (2 threads): python train/gan.py "
                          "--epochs 60 then epochs 60-78 on 1x H200: python train/gan.py --oversample 6:3 --epochs 78"})
    assert lineage.endswith("continued from epochs 0-60 on CPU (2 threads) then epochs 60-78 on 1x H200, class "
                            "Shirt repeated 3x among D's real images")  # the tab drops the commands (the card has them)
    from gen.ui import gan_tab

    md = gan_tab._compare_md("MNIST", (None, None))
    assert "How `gan-mnist` was trained:" in md  # the tab says it
    card = gan.metrics("gan-mnist")  # the rarest class as the card measured it, beside the card's FID
    rarest = min(card["class_histogram"], key=card["class_histogram"].get)
    assert f"| smallest class share | {card['min_class_fraction']:.1%} ({rarest}; 5,000 samples) |" in md
