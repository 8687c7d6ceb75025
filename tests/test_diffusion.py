"""DDPM (lecture section 4): schedules, forward process, posterior, Algorithms 1 and 2, DDIM (eta = 0)."""
import math

import numpy as np
import pytest
import torch

from gen import diffusion as D
from gen.unet import UNet, bf16_sampling_default, timestep_embedding


@pytest.fixture(autouse=True)
def float32_unet(monkeypatch):
    """The math here is checked in float32, whatever the app (imported by other tests) chose for sampling."""
    monkeypatch.setattr(UNet, "bf16_sampling", False)


def oracle(x0: torch.Tensor, sch: D.Schedule):
    """The exact noise predictor for a point-mass data set at x0: eps = (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t)."""
    def eps(x_t, t):
        ab = sch.alpha_bar[t].to(x_t.dtype).reshape(-1, *[1] * (x_t.dim() - 1))
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
    return eps


def test_schedules():
    sch = D.linear_schedule()
    assert sch.T == 1000 and len(sch.beta) == 1001
    assert sch.beta[0] == 0 and sch.alpha_bar[0] == 1
    assert math.isclose(sch.beta[1], 1e-4) and math.isclose(sch.beta[1000], 0.02)
    assert (sch.beta[1:].diff() > 0).all()
    np.testing.assert_allclose(sch.alpha_bar.numpy(), np.cumprod(1 - sch.beta.numpy()), rtol=1e-12)
    cos = D.cosine_schedule()
    for s in (sch, cos):
        assert s.alpha_bar[-1] < 1e-4
        assert (s.alpha_bar.diff() < 0).all()  # more noise at every step
    assert D.make_schedule("cosine", 50).T == 50


@pytest.mark.parametrize("t", [10, 100])
def test_q_step_chain_matches_q_x_t_given_x0(t):
    sch = D.linear_schedule()
    g = torch.Generator().manual_seed(t)
    x0 = torch.full((20000,), 1.5, dtype=torch.float64)
    x = x0
    for s in range(1, t + 1):
        x = D.q_step(x, s, torch.randn(x.shape, generator=g, dtype=torch.float64), sch)
    ab = float(np.prod(1 - sch.beta.numpy()[1:t + 1]))  # computed here, not from the schedule's alpha_bar
    mean, var = math.sqrt(ab) * 1.5, 1 - ab
    assert abs(x.mean().item() - mean) < 5 * math.sqrt(var / len(x))
    assert abs(x.var().item() / var - 1) < 0.05
    # and q_sample draws from the same distribution
    xs = D.q_sample(x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64), sch)
    assert abs(xs.mean().item() - mean) < 5 * math.sqrt(var / len(x))
    assert abs(xs.var().item() / var - 1) < 0.05


@pytest.mark.parametrize("t", [2, 10, 300, 1000])
def test_posterior_is_bayes_rule(t):
    sch = D.cosine_schedule() if t == 300 else D.linear_schedule()
    beta = sch.beta.numpy()
    ab_prev = np.prod(1 - beta[1:t])  # alpha_bar_{t-1}
    x0 = torch.tensor([0.7, -1.0], dtype=torch.float64)
    x_t = torch.tensor([0.2, 1.3], dtype=torch.float64)
    # prior q(x_{t-1}|x0) = N(sqrt(ab_prev) x0, 1 - ab_prev), likelihood q(x_t|x_{t-1}) = N(sqrt(1-b) x_{t-1}, b)
    prec = 1 / (1 - ab_prev) + (1 - beta[t]) / beta[t]
    var = 1 / prec
    mean = var * (math.sqrt(ab_prev) * x0 / (1 - ab_prev) + math.sqrt(1 - beta[t]) * x_t / beta[t])
    post = D.posterior(x0, x_t, t, sch)
    torch.testing.assert_close(post.mean, mean, rtol=1e-6, atol=1e-9)
    assert math.isclose(float(post.var), var, rel_tol=1e-6)
    assert math.isclose(float(sch.beta_tilde[t]), var, rel_tol=1e-6)


def test_posterior_at_t1_is_x0():
    sch = D.linear_schedule()
    x0, x1 = torch.tensor([0.3], dtype=torch.float64), torch.tensor([5.0], dtype=torch.float64)
    post = D.posterior(x0, x1, 1, sch)
    torch.testing.assert_close(post.mean, x0)
    assert float(post.var) == 0


def test_predict_x0_inverts_q_sample():
    sch = D.linear_schedule()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 500, 1000])
    x_t = D.q_sample(x0, t, eps, sch)
    torch.testing.assert_close(D.predict_x0(x_t, t, eps, sch), x0, rtol=0, atol=1e-10)
    assert not torch.allclose(x_t[2], x0[2], atol=0.1)


def test_ancestral_sampling_with_oracle_returns_x0():
    sch = D.linear_schedule(T=100, beta_T=0.2)
    x0 = torch.linspace(-1, 1, 4 * 28 * 28).reshape(4, 1, 28, 28)
    x_T = D.noise(tuple(x0.shape), seed=0)
    for var in ("beta", "beta_tilde"):
        out = D.sample(oracle(x0, sch), sch, x_T, seed=1, var=var)
        torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


def test_reverse_steps_are_the_posterior():
    """With the oracle, mu_theta is mu_tilde and sigma^2 = beta_tilde gives back q(x_t|x0) at every t."""
    sch = D.linear_schedule()
    x0 = torch.linspace(-1, 1, 20000, dtype=torch.float64).reshape(20, 1000)  # 20 "images" of 1000 pixels
    x_T = D.q_sample(x0, sch.T, D.noise(x0.shape, seed=0).double(), sch)
    x_t = x_T
    for step in D.sample_steps(oracle(x0, sch), sch, x_T, seed=1, var="beta_tilde"):
        if step.t in (900, 500, 20):
            torch.testing.assert_close(step.mean, D.posterior(x0, x_t, step.t, sch).mean, rtol=1e-6, atol=1e-8)
            torch.testing.assert_close(step.pred_x0, x0, rtol=1e-6, atol=1e-6)
            ab = float(sch.alpha_bar[step.t - 1])
            r = (step.prev_sample - math.sqrt(ab) * x0) / math.sqrt(1 - ab)  # should be N(0, 1)
            assert abs(r.mean().item()) < 0.04 and abs(r.var().item() - 1) < 0.05, (step.t, r.mean(), r.var())
        x_t = step.prev_sample


def test_ddim_with_oracle_returns_x0_and_is_deterministic():
    sch = D.linear_schedule()
    x0 = torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28)
    x_T = D.noise((2, 1, 28, 28), seed=5)
    assert D.ddim_timesteps(1000, 10) == list(range(1000, 0, -100))
    torch.testing.assert_close(D.ddim_sample(oracle(x0, sch), sch, x_T, S=10), x0, atol=1e-4, rtol=0)

    def model(x, t):  # some fixed non-trivial eps_theta
        return torch.tanh(x) * (t.float() / 1000)[:, None, None, None]

    a, b = D.ddim_sample(model, sch, x_T, S=10), D.ddim_sample(model, sch, x_T.clone(), S=10)
    assert torch.equal(a, b)
    assert not torch.allclose(a, D.ddim_sample(model, sch, D.noise((2, 1, 28, 28), seed=6), S=10))
    assert len(list(D.ddim_steps(model, sch, x_T, S=10))) == 10


def test_ddim_eta_1_with_all_steps_is_algorithm_2():
    # Song et al.: eta = 1 makes sigma_t^2 = beta_tilde_t, and the update is Algorithm 2's with x0 predicted
    sch = D.linear_schedule(T=50, beta_T=0.2)
    x_T = D.noise((2, 1, 28, 28), seed=3)

    def model(x, t):
        return torch.tanh(x) * (t.float() / 50)[:, None, None, None]

    ddim = list(D.ddim_steps(model, sch, x_T, S=50, eta=1.0, seed=7))
    alg2 = list(D.sample_steps(model, sch, x_T, seed=7, var="beta_tilde"))
    for a, b in zip(ddim, alg2, strict=True):
        assert a.t == b.t and a.sigma == pytest.approx(b.sigma, rel=1e-6)
        torch.testing.assert_close(a.prev_sample, b.prev_sample, atol=1e-5, rtol=1e-5)
    eta_half = D.ddim_sample(model, sch, x_T, S=10, eta=0.5, seed=7)  # stochastic: the seed matters
    assert torch.equal(eta_half, D.ddim_sample(model, sch, x_T, S=10, eta=0.5, seed=7))
    assert not torch.allclose(eta_half, D.ddim_sample(model, sch, x_T, S=10, eta=0.5, seed=8))


@pytest.mark.parametrize("var", ["beta", "beta_tilde"])
def test_sample_steps(var):
    sch = D.linear_schedule(T=20, beta_T=0.3)
    x_T = D.noise((2, 1, 28, 28), seed=0)
    steps = list(D.sample_steps(lambda x, t: 0.5 * x, sch, x_T, seed=0, var=var))
    assert [s.t for s in steps] == list(range(20, 0, -1))
    for s in steps:
        for v in (s.prev_sample, s.eps, s.pred_x0, s.mean):
            assert v.shape == x_T.shape
        want = float((sch.beta if var == "beta" else sch.beta_tilde)[s.t])
        assert math.isclose(s.sigma**2, want, rel_tol=1e-6)
        torch.testing.assert_close(s.prev_sample, s.mean + s.sigma * s.z)
    assert torch.equal(steps[-1].prev_sample, steps[-1].mean)  # no noise on the last step
    again = list(D.sample_steps(lambda x, t: 0.5 * x, sch, x_T, seed=0, var=var))
    assert torch.equal(again[-1].prev_sample, steps[-1].prev_sample)
    other = list(D.sample_steps(lambda x, t: 0.5 * x, sch, x_T, seed=1, var=var))
    assert not torch.equal(other[-1].prev_sample, steps[-1].prev_sample)


def test_loss_simple_and_one_training_step():
    torch.manual_seed(0)
    sch = D.linear_schedule()
    model = UNet(ch=8, T=1000)
    x0 = torch.rand(8, 1, 28, 28) * 2 - 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        torch.manual_seed(1)  # the same t and eps each time
        return D.loss_simple(model, x0, sch)

    before = loss()
    assert before.dim() == 0 and 0.5 < before.item() < 2  # an untrained net: about E||eps||^2 = 1 per pixel
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item() - 1e-3


def test_input_perturbation_leaves_a_loss_of_gamma_squared_to_a_perfect_denoiser():
    """The model that reads the exact noise out of x_t (it knows x0) scores 0 under Algorithm 1, and gamma^2 per
    pixel with input perturbation: x_t carries eps + gamma xi, the target is eps alone."""
    torch.manual_seed(0)
    sch = D.linear_schedule()
    x0 = torch.rand(256, 1, 28, 28) * 2 - 1

    def exact(x_t, t):  # (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t): the noise inside x_t
        ab = sch.alpha_bar[t].view(-1, 1, 1, 1)
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    assert D.loss_simple(exact, x0, sch).item() < 1e-8
    for gamma in (0.1, 0.3):
        assert abs(D.loss_simple(exact, x0, sch, gamma=gamma).item() / gamma ** 2 - 1) < 0.02


def test_unet_shapes_and_embedding():
    torch.manual_seed(0)
    model = UNet(ch=8).eval()
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([1, 500, 1000])
    with torch.no_grad():
        out = model(x, t)
        assert out.shape == x.shape
        assert not torch.allclose(out, model(x, torch.tensor([2, 501, 999])))  # t enters the net
    emb = timestep_embedding(t, 16)
    assert emb.shape == (3, 16)
    assert emb.abs().max() <= 1 and not torch.allclose(emb[0], emb[1])


def test_unet_samples_under_bf16_only_when_set_and_never_with_gradients(monkeypatch):
    torch.manual_seed(0)
    model = UNet(ch=8).eval()
    x, t = torch.randn(4, 1, 28, 28), torch.randint(1, 1001, (4,))
    with torch.no_grad():
        full = model(x, t)
        monkeypatch.setattr(UNet, "bf16_sampling", True)
        low = model(x, t)
    assert low.dtype == torch.float32 and not torch.equal(low, full)
    assert (low - full).abs().mean() < 0.05 * full.abs().mean()
    with torch.no_grad():  # one or two images: float32 (bf16's conversions cost more than they save)
        assert torch.allclose(model(x[:2], t[:2]), full[:2], atol=1e-5)
    trained = model(x, t)  # with gradients, as in training: float32, as ever
    assert trained.requires_grad and torch.equal(trained.detach(), full)


def test_bf16_sampling_is_genlab_bf16_when_set(monkeypatch):
    monkeypatch.setenv("GENLAB_BF16", "0")
    assert bf16_sampling_default() is False
    monkeypatch.setenv("GENLAB_BF16", "1")
    assert bf16_sampling_default() is True


def test_seeded_noise():
    a = D.noise((2, 3), seed=4, t=7)
    assert a.shape == (2, 3)
    assert torch.equal(a, D.noise((2, 3), seed=4, t=7))
    assert not torch.equal(a, D.noise((2, 3), seed=4, t=8))
    assert not torch.equal(a, D.noise((2, 3), seed=5, t=7))


def test_eps_in_chunks_is_the_same_model():
    from gen.sample import eps_in_chunks

    torch.manual_seed(0)
    model = UNet(ch=8).eval()
    x, t = torch.randn(150, 1, 28, 28), torch.randint(1, 1001, (150,))
    with torch.no_grad():
        whole = model(x, t)
        assert torch.allclose(eps_in_chunks(model, 64)(x, t), whole, atol=1e-5)  # 64 + 64 + 22, in order
        low = eps_in_chunks(model, 64, bf16=True)(x, t)
    assert low.dtype == torch.float32 and not torch.equal(low, whole)
    assert (low - whole).abs().mean() < 0.05 * whole.abs().mean()


# ---- classifier-free guidance ----------------------------------------------------------------

def toy_cond_eps(x_t, t, y):
    """A toy eps_theta(x_t, t, y): label 10 is the null class; each class pulls toward its own value."""
    return x_t * 0.1 + y.to(x_t.dtype).reshape(-1, 1, 1, 1) * 0.01 + t.to(x_t.dtype).reshape(-1, 1, 1, 1) * 1e-4


@pytest.mark.parametrize("batched", [True, False])
def test_guidance_endpoints_are_exact(batched):
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    t, y = torch.full((6,), 300), torch.arange(6)
    null = torch.full((6,), 10)
    w0 = D.guided_eps(toy_cond_eps, x, t, y, 0.0, 10, batched)
    assert torch.equal(w0.eps, toy_cond_eps(x, t, y))  # w = 0: the conditional model
    w_1 = D.guided_eps(toy_cond_eps, x, t, y, -1.0, 10, batched)
    assert torch.equal(w_1.eps, toy_cond_eps(x, t, null))  # w = -1: the unconditional one
    w3 = D.guided_eps(toy_cond_eps, x, t, y, 3.0, 10, batched)  # eq. 6: (1 + w) eps_c - w eps_u
    torch.testing.assert_close(w3.eps, 4 * toy_cond_eps(x, t, y) - 3 * toy_cond_eps(x, t, null))
    assert torch.equal(w3.eps_cond, toy_cond_eps(x, t, y)) and torch.equal(w3.eps_uncond, toy_cond_eps(x, t, null))


def test_guidance_batched_equals_two_passes_on_the_unet():
    m = UNet(8, num_classes=10).eval()
    torch.nn.init.normal_(m.y_emb.weight)  # a trained embedding is not zero
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([5, 500, 999]), torch.tensor([1, 7, 3])
    with torch.no_grad():
        a = D.guided_eps(m, x, t, y, 2.0, m.null_class, batched=True)
        b = D.guided_eps(m, x, t, y, 2.0, m.null_class, batched=False)
    torch.testing.assert_close(a.eps, b.eps, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(a.eps_cond, a.eps_uncond)  # the label matters


def test_guidance_plugs_into_the_samplers_and_keeps_its_parts():
    x0 = torch.full((1, 1, 4, 4), 0.5)  # broadcasts over the doubled batch of the one batched pass
    sch = D.linear_schedule(50)
    eps = oracle(x0, sch)
    g = D.Guidance(lambda x_t, t, y: eps(x_t, t), torch.tensor([3, 4]), 2.0, 10)
    out = D.ddim_sample(g, sch, D.noise((2, 1, 4, 4), 0), 10)
    torch.testing.assert_close(out, x0.expand(2, -1, -1, -1), atol=1e-4, rtol=0)  # eps_c = eps_u: no change
    assert g.last is not None and g.last.w == 2.0 and g.last.eps.shape == (2, 1, 4, 4)


def test_guidance_interval_guides_only_while_t_is_at_most_t_max():
    calls = []

    def counted(x_t, t, y):
        calls.append(len(x_t))
        return toy_cond_eps(x_t, t, y)
    x, y = torch.randn(2, 1, 4, 4), torch.tensor([3, 4])
    g = D.Guidance(counted, y, 2.0, 10, t_max=500)
    t_hi, t_lo = torch.full((2,), 501), torch.full((2,), 500)
    assert torch.equal(g(x, t_hi), toy_cond_eps(x, t_hi, y))  # above the interval: the conditional model alone ...
    assert calls == [2] and g.last.w == 0 and g.last.eps_uncond is None  # ... in one pass, no unconditional one
    null = torch.full((2,), 10)
    torch.testing.assert_close(g(x, t_lo), 3 * toy_cond_eps(x, t_lo, y) - 2 * toy_cond_eps(x, t_lo, null))
    assert calls == [2, 4] and g.last.w == 2.0  # inside: eq. 6, one doubled pass
    assert torch.equal(D.Guidance(counted, y, 2.0, 10)(x, t_hi), D.guided_eps(toy_cond_eps, x, t_hi, y, 2.0, 10).eps)


# ---- autoguidance ---------------------------------------------------------------------------------------------

def test_autoguidance_is_eq_2_and_guides_only_inside_its_interval():
    def good(x_t, t):
        return x_t * 0.1 + 0.02

    weak_calls = []

    def weak(x_t, t):
        weak_calls.append(int(t.max()))
        return x_t * 0.3 - 0.01
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    t_lo, t_hi = torch.full((3,), 600), torch.full((3,), 601)
    g = D.AutoGuidance(good, weak, 0.5, t_max=600)
    torch.testing.assert_close(g(x, t_lo), 1.5 * good(x, t_lo) - 0.5 * weak(x, t_lo))  # (1 + w) eps - w eps_weak
    assert torch.equal(g.last.eps_theta, good(x, t_lo)) and g.last.w == 0.5
    weak_calls.clear()
    assert torch.equal(g(x, t_hi), good(x, t_hi)) and weak_calls == [] and g.last.eps_weak is None  # outside
    assert torch.equal(D.autoguided_eps(good, weak, x, t_lo, 0.0).eps, good(x, t_lo))  # w = 0: the model itself
    assert torch.equal(D.autoguided_eps(good, weak, x, t_lo, -1.0).eps, weak(x, t_lo))  # w = -1: the weak one


def test_autoguidance_plugs_into_ddim_and_a_weak_model_that_makes_no_errors_changes_nothing():
    # eps_theta - eps_weak = 0 when the weak model is as good (here both exact): DDIM lands on x0 as unguided
    x0 = torch.full((1, 1, 4, 4), 0.5)
    sch = D.linear_schedule(50)
    eps = oracle(x0, sch)
    out = D.ddim_sample(D.AutoGuidance(eps, eps, 2.0), sch, D.noise((2, 1, 4, 4), 0), 10)
    torch.testing.assert_close(out, x0.expand(2, -1, -1, -1), atol=1e-4, rtol=0)


def test_label_dropout_rate_matches_p_uncond():
    y = torch.randint(0, 10, (200_000,), generator=torch.Generator().manual_seed(1))
    for p in (0.1, 0.2):
        out = D.drop_labels(y, p, 10, torch.Generator().manual_seed(2))
        dropped = (out == 10).double().mean().item()
        assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / len(y))  # within 4 standard errors
        assert torch.equal(out[out != 10], y[out != 10])  # kept labels are untouched
    assert torch.equal(D.drop_labels(y, 0.0, 10), y)


def test_conditional_unet_starts_as_the_unconditional_one():
    """A zero-initialised class embedding: unconditional weights load and predict the same, for any y."""
    torch.manual_seed(0)
    plain = UNet(8).eval()
    cond = UNet(8, num_classes=10).eval()
    missing = cond.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["y_emb.weight"]
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([10, 900])
    with torch.no_grad():
        torch.testing.assert_close(cond(x, t, torch.tensor([3, 10])), plain(x, t))
        torch.testing.assert_close(cond(x, t), plain(x, t))  # y = None is the null class
    with pytest.raises(ValueError, match="unconditional"):
        plain(x, t, torch.tensor([1, 2]))


def test_dropout_acts_in_training_only_and_rides_in_the_config(tmp_path):
    """A dropout U-Net holds the same weights as a plain one, predicts the same in eval mode, and saves its rate."""
    torch.manual_seed(0)
    plain = UNet(8).eval()
    drop = UNet(8, dropout=0.5)
    drop.load_state_dict(plain.state_dict())  # strict: dropout adds no parameters
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([10, 900])
    with torch.no_grad():
        assert not torch.allclose(drop(x, t), drop(x, t))  # training mode: a fresh mask each call
        torch.testing.assert_close(drop.eval()(x, t), plain(x, t))
    drop.save_pretrained(tmp_path)
    again = UNet.from_pretrained(tmp_path)
    assert again.down1.drop.p == 0.5 and isinstance(plain.down1.drop, torch.nn.Identity)
