"""VAE / AE (lecture section 2): ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), z = mu + sigma * eps."""
import math

import pytest
import torch

from gen.latent import lerp, seed_to_z, seeds_to_z, slerp
from gen.vae import VAE, elbo, kl_gaussian, log_likelihood, reparameterize


def binary_batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float()


def test_kl_gaussian_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[math.log(0.25), 0.0, math.log(2.0)]], dtype=torch.float64)
    sigma = (0.5 * logvar).exp()
    z = mu + sigma * torch.randn(400_000, 3, dtype=torch.float64)
    # KL(q||p) = E_q[log q(z) - log p(z)], both diagonal Gaussians
    log_q = (-0.5 * ((z - mu) / sigma) ** 2 - sigma.log() - 0.5 * math.log(2 * math.pi)).sum(1)
    log_p = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(1)
    mc = (log_q - log_p).mean().item()
    exact = kl_gaussian(mu, logvar).item()
    assert kl_gaussian(mu, logvar).shape == (1,)
    assert abs(exact - mc) < 0.02, (exact, mc)
    assert kl_gaussian(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() < 1e-7  # KL(p||p) = 0


def test_reparameterize_mean_and_variance():
    torch.manual_seed(0)
    mu = torch.tensor([1.0, -2.0, 0.0]).repeat(200_000, 1)
    logvar = torch.tensor([math.log(4.0), math.log(0.01), 0.0]).repeat(200_000, 1)
    z = reparameterize(mu, logvar)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0, 0.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([4.0, 0.01, 1.0]), rtol=0.03, atol=0)
    eps = torch.ones(1, 3)
    torch.testing.assert_close(reparameterize(mu[:1], logvar[:1], eps), torch.tensor([[3.0, -1.9, 1.0]]))


def test_elbo_terms():
    torch.manual_seed(0)
    x, logits = binary_batch(4), torch.randn(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    e = elbo(x, logits, mu, logvar)
    torch.testing.assert_close(e.elbo, e.recon - e.kl)
    torch.testing.assert_close(e.kl, kl_gaussian(mu, logvar))
    # Bernoulli log-likelihood by hand: sum x log p + (1 - x) log(1 - p)
    p = torch.sigmoid(logits)
    by_hand = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(e.recon, by_hand, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(log_likelihood(x, logits), by_hand, rtol=1e-5, atol=1e-3)
    assert (e.kl >= 0).all() and (e.recon <= 0).all()


def test_vae_shapes_and_range():
    torch.manual_seed(0)
    m = VAE(latent_dim=3, hidden=32).eval()
    x = binary_batch(5)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    img = m.decode(torch.randn(5, 3) * 10)
    assert img.shape == (5, 1, 28, 28)
    assert img.min() >= 0 and img.max() <= 1
    z, e = m(x)
    assert z.shape == (5, 3) and e.recon.shape == e.kl.shape == e.elbo.shape == (5,)
    z2, _ = m(x)
    assert not torch.equal(z, z2)  # the VAE's code is a sample
    torch.testing.assert_close(m(x, eps=torch.zeros(5, 3))[0], mu)  # z = mu + sigma * 0


def test_ae_is_deterministic_with_zero_kl():
    torch.manual_seed(0)
    m = VAE(latent_dim=2, hidden=32, variational=False).eval()
    x = binary_batch(4)
    z1, e1 = m(x)
    z2, e2 = m(x)
    assert z1.shape == (4, 2)
    assert torch.equal(z1, z2) and torch.equal(z1, m.encode(x).mu)
    assert torch.equal(e1.kl, torch.zeros(4))
    torch.testing.assert_close(e1.elbo, e1.recon)
    assert torch.isfinite(e1.elbo).all()


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = VAE(latent_dim=4, hidden=32, dataset="fashion").eval()
    m.save_pretrained(tmp_path)
    m2 = VAE.from_pretrained(tmp_path).eval()
    assert (m2.latent_dim, m2.dataset, m2.variational) == (4, "fashion", True)
    x, eps = binary_batch(3), torch.randn(3, 4)
    z = torch.randn(3, 4)
    assert torch.equal(m.decode(z), m2.decode(z))
    assert torch.equal(m(x, eps)[1].elbo, m2(x, eps)[1].elbo)
    assert not torch.equal(VAE(latent_dim=4, hidden=32).decode(z), m2.decode(z))  # a fresh init differs


def test_seed_to_z_is_deterministic():
    torch.manual_seed(1)
    a = seed_to_z(7, 16)
    torch.manual_seed(2)  # the global RNG must not matter
    b = seed_to_z(7, 16)
    assert a.shape == (1, 16) and torch.equal(a, b)
    assert not torch.equal(a, seed_to_z(8, 16))
    torch.testing.assert_close(seeds_to_z([8, 7], 16)[1], a[0], rtol=0, atol=0)


def test_lerp_slerp():
    z0 = seed_to_z(0, 32)[0].double()
    z1 = seed_to_z(1, 32)[0].double()
    z1 = z1 - (z1 @ z0) / (z0 @ z0) * z0  # orthogonal to z0 ...
    z1 = z1 / z1.norm() * z0.norm()  # ... with the same norm
    for f in (lerp, slerp):
        path = f(z0, z1, 9)
        assert path.shape == (9, 32)
        torch.testing.assert_close(path[0], z0)
        torch.testing.assert_close(path[-1], z1)
    z60 = 0.5 * z0 + math.sqrt(0.75) * z1  # same norm, 60 degrees from z0
    for end in (z1, z60):
        norms = slerp(z0, end, 9).norm(dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, z0.norm().item()), rtol=1e-3, atol=0)
    # the straight line cuts the corner: its midpoint is shorter by sqrt(2)
    assert abs(lerp(z0, z1, 9)[4].norm() - z0.norm() / math.sqrt(2)) < 1e-6


def test_one_step_lowers_negative_elbo():
    torch.manual_seed(0)
    m = VAE(latent_dim=2, hidden=32)
    x, eps = binary_batch(16), torch.randn(16, 2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)

    def loss():
        return -m(x, eps)[1].elbo.mean()

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item() - 1e-3


def test_walk_decodes_from_one_encoding_to_the_other():
    from gen.vae import walk

    torch.manual_seed(0)
    m = VAE(latent_dim=4).eval()
    x0, x1 = torch.rand(1, 1, 28, 28), torch.rand(1, 1, 28, 28)
    for method in ("linear", "spherical"):
        path = walk(m, x0, x1, 5, method)
        assert path.shape == (5, 1, 28, 28)
        with torch.no_grad():
            torch.testing.assert_close(path[0], m.decode(m.encode(x0).mu)[0])  # starts at mu(x0)
            torch.testing.assert_close(path[-1], m.decode(m.encode(x1).mu)[0])  # ends at mu(x1)
    with pytest.raises(ValueError, match="unknown interpolation"):
        walk(m, x0, x1, 5, "cubic")
    with pytest.raises(ValueError, match="steps"):
        walk(m, x0, x1, 1)
