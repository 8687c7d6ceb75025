"""GAN (lecture section 3): minimax and non-saturating losses, one step of Algorithm 1, shipped checkpoints."""
import numpy as np
import pytest
import torch

from gen import hub
from gen.gan import Discriminator, Generator, d_loss, g_loss
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
