"""FID and the shipped feature classifier."""
import copy

import numpy as np
import torch

from gen import data, hub
from gen.evaluate import Classifier, features_and_labels, fid


def gaussian(n, mean, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(mean, dtype=np.float64) + scale * rng.standard_normal((n, len(mean)))


def test_fid_of_a_set_with_itself_is_zero():
    f = gaussian(3000, [0.0] * 8) @ np.random.default_rng(1).standard_normal((8, 8))  # correlated features
    assert abs(fid(f, f)) < 1e-6


def test_fid_grows_with_a_shift():
    f = gaussian(3000, [0.0] * 8)
    shift = np.arange(8) / 4
    assert abs(fid(f, f + shift) - (shift**2).sum()) < 1e-6  # same covariance: only the mean term
    assert fid(f, f + 2 * shift) > fid(f, f + shift) > 0


def test_fid_of_gaussians():
    a = gaussian(20000, [0, 0, 0, 0], seed=2)
    b = gaussian(20000, [1, -1, 2, 0], seed=3)
    assert abs(fid(a, b) - 6.0) < 0.15  # ||mu1 - mu2||^2 with identity covariances
    # N(0, I) vs N(0, 4I) in d = 4: Tr(I + 4I - 2 * 2I) = 4
    c = gaussian(20000, [0, 0, 0, 0], scale=2.0, seed=4)
    assert abs(fid(a, c) - 4.0) < 0.25


def test_shipped_classifier_accuracy():
    clf = hub.load("classifier-mnist")
    assert isinstance(clf, Classifier)
    x, y = data.test_sample("mnist")
    assert x.shape == (2000, 28, 28) and y.shape == (2000,)
    feats, pred = features_and_labels(clf, x)
    assert feats.shape == (2000, 128)
    acc = (pred == y).mean()
    assert acc > 0.95, acc


def test_model_card_names_how_it_was_measured(tmp_path):
    import json

    from gen.training import write_card

    (tmp_path / "training.json").write_text(json.dumps({"name": "ddpm-fashion", "dataset": "fashion", "steps": 3,
                                                        "history": [{"step": 1}]}))
    write_card(tmp_path)
    assert "Not evaluated yet" in (tmp_path / "README.md").read_text()
    cmd = "python -m gen.evaluate --model ddpm-fashion --sampler ddim --steps 200 --eta 1 --write"
    (tmp_path / "metrics.json").write_text(json.dumps({"model": "ddpm-fashion", "n_samples": 5000, "fid": 5.5,
                                                       "sampler": "ddim-200, eta 1", "command": cmd}))
    write_card(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert f"Measured with `{cmd}` (5000 samples)" in card and "| fid | 5.5 |" in card
    assert "| command |" not in card and "| steps | 3 |" in card
    point = {"w": 2.0, "n_samples": 1000, "fid": 7.25, "fid_real_vs_real": 3.1, "conditional_accuracy": 0.991,
             "min_class_fraction": 0.095}
    (tmp_path / "metrics.json").write_text(json.dumps({"model": "ddpm-cond-fashion", "n_samples": 5000, "fid": 5.5,
                                                       "conditional_accuracy": 0.95, "guidance_curve": [point]}))
    write_card(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "| 2 | every step | 1000 | 7.25 | 3.10 | 99.1% | 9.5% |" in card
    assert "| conditional accuracy | 0.95 |" in card


def test_requested_labels_and_conditional_accuracy():
    import pytest

    from gen.evaluate import conditional_accuracy
    from gen.sample import requested_labels

    assert requested_labels("ddpm-mnist", 5) is None  # unconditional: nothing is asked
    assert requested_labels("ddpm-cond-mnist", 12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # balanced
    assert requested_labels("ddpm-cond-fashion", 3, "7").tolist() == [7, 7, 7]
    for bad in ("11", "seven"):
        with pytest.raises(ValueError):
            requested_labels("ddpm-cond-mnist", 3, bad)
    with pytest.raises(ValueError, match="not conditional"):
        requested_labels("gan-mnist", 3, 7)
    assert conditional_accuracy(np.array([1, 2, 3, 3]), np.array([1, 2, 3, 4])) == 0.75


def test_registry_says_what_each_model_is():
    e = hub.REGISTRY["ddpm-cond-fashion"]
    assert (e.family, e.dataset, e.role, e.conditional) == ("ddpm", "fashion", "generator", True)
    assert hub.REGISTRY["gan-mnist-D"].role == "discriminator"
    assert hub.generators("ddpm", "mnist") == ["ddpm-mnist", "ddpm-cond-mnist"]
    assert all(not n.startswith("classifier") and not n.endswith("-D") for n in hub.generators())


def test_also_adds_a_sampler_row_and_the_app_shows_every_row(tmp_path, monkeypatch, tiny_npz):
    """`gen.evaluate --write --also` keeps the card's own figures and adds (or replaces) one sampler's row."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from gen.ui.common import sampler_fids, sampler_words

    root = Path(__file__).resolve().parent.parent
    for name in ("ddpm-mnist", "ddpm-mnist-weak", "classifier-mnist"):
        shutil.copytree(root / "checkpoints" / name, tmp_path / name)
    own = json.loads((tmp_path / "ddpm-mnist" / "metrics.json").read_text())
    env = {**os.environ, "GENLAB_CHECKPOINTS": str(tmp_path), "OMP_NUM_THREADS": "1"}

    def also(*args: str) -> None:
        cmd = [sys.executable, "-m", "gen.evaluate", "--model", "ddpm-mnist", "--n", "24", "--data",
               str(tiny_npz), "--sampler", "ddim", "--steps", "2", *args, "--write", "--also"]
        r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stderr[-2000:]

    also("--eta", "1", "--guidance", "0")
    also()  # DDIM of ddpm-mnist: autoguided by ddpm-mnist-weak at the registry's w
    also("--eta", "1", "--guidance", "0")  # measured again: replaces its row
    m = json.loads((tmp_path / "ddpm-mnist" / "metrics.json").read_text())
    assert m["fid"] == own["fid"] and m["sampler"] == own["sampler"]  # the model's own figures stay
    shipped = own.get("samplers", [])  # the rows the shipped card has stay too
    assert m["samplers"][:len(shipped)] == shipped
    new = m["samplers"][len(shipped):]
    e = hub.REGISTRY["ddpm-mnist"]
    assert [r["sampler"] for r in new] == [f"ddim-2, autoguidance w {e.guidance:g} while t <= {e.guidance_t_max}",
                                           "ddim-2, eta 1"]
    assert all(r["n_samples"] == 24 and r["fid"] > 0 and "--also" in r["command"] for r in new)
    card = (tmp_path / "ddpm-mnist" / "README.md").read_text()
    assert f"| ddim-2, eta 1 | 24 | {new[1]['fid']:.2f} |" in card and f"| {own['fid']:.4g} |" in card

    assert [sampler_words(s) for s in ("ddpm", "ddim-50, bf16", "ddim-50, eta 1, bf16", "ddim-200, eta 1",
                                       "ddim-50, autoguidance w 0.5 while t <= 400, bf16")] == [
        "Algorithm 2 (all T steps)", "DDIM-50, η 0", "DDIM-50, η 1", "DDIM-200, η 1",
        "DDIM-50, η 0, autoguidance w 0.5 while t ≤ 400"]
    monkeypatch.setenv("GENLAB_CHECKPOINTS", str(tmp_path))
    shown = sampler_fids("ddpm-mnist", hub.read_json("ddpm-mnist", "metrics.json"))
    assert shown.startswith(f"FID of `ddpm-mnist` ({own['n_samples']:,} samples")
    for r in [own, *m["samplers"]]:  # each chain once: its float32 figure where the card has one
        fp32 = [q for q in [own, *m["samplers"]] if q["sampler"] == r["sampler"].replace(", bf16", "")]
        assert f"{sampler_words(r['sampler'])} **{(fp32 or [r])[0]['fid']:.1f}**" in shown
        assert shown.count(f"{sampler_words(r['sampler'])} **") == 1
    assert f"**{new[0]['fid']:.1f}** (24 samples, real vs real {new[0]['fid_real_vs_real']:.1f})" in shown  # its n


def test_a_chain_measured_under_bf16_and_in_float32_shows_once_as_float32():
    from gen.ui.common import sampler_fids

    row = {"n_samples": 5000, "fid_real_vs_real": 3.2, "min_class_fraction": 0.09}
    m = {**row, "sampler": "ddpm, bf16", "fid": 5.26, "samplers": [
        {**row, "sampler": "ddim-50, bf16", "fid": 8.14}, {**row, "sampler": "ddpm", "fid": 6.01}]}
    shown = sampler_fids("ddpm-mnist", m)
    assert shown.endswith(": Algorithm 2 (all T steps) **6.0** · DDIM-50, η 0 **8.1**"), shown
    assert "5.3" not in shown


def test_each_chain_has_its_own_shipped_autoguidance():
    """DDIM is autoguided at the registry's (guidance, guidance_t_max); Algorithm 2 only where the registry gives it
    a chain_guidance with w > 0 (Fashion: low t only), else it runs as in the lecture."""
    from gen.sample import generate, sampler_label, shipped_guidance

    f, m = hub.REGISTRY["ddpm-fashion"], hub.REGISTRY["ddpm-mnist"]
    assert shipped_guidance("ddpm-fashion", "ddpm") == f.chain_guidance and f.chain_guidance[0] > 0
    assert shipped_guidance("ddpm-fashion") == (f.guidance, f.guidance_t_max)
    w, t_max = f.chain_guidance
    assert sampler_label("ddpm-fashion", "ddpm") == f"ddpm, autoguidance w {w:g} while t <= {t_max}"
    assert sampler_label("ddpm-mnist", "ddpm") == "ddpm" and m.chain_guidance[0] == 0  # MNIST's: unguided
    assert sampler_label("ddpm-mnist", "ddpm", w=0.5) == f"ddpm, autoguidance w 0.5 while t <= {m.chain_guidance[1]}"
    assert sampler_label("ddpm-cond-fashion", "ddpm") == "ddpm"  # classifier-free guidance is not autoguidance
    shipped, plain = (generate("ddpm-fashion", 1, seed=4, sampler="ddpm", guidance=g) for g in (None, 0.0))
    assert np.abs(shipped.astype(int) - plain).mean() > 1  # the shipped Algorithm 2 is guided: other images


def test_a_cut_short_generation_resumes_from_its_kept_batches(tmp_path):
    from gen.sample import cache_key, generate

    kw = dict(sampler="ddim", steps=3, batch=4, bf16=True)
    full = generate("ddpm-mnist", 6, seed=2, **kw)
    first = generate("ddpm-mnist", 4, seed=2, cache=tmp_path, **kw)  # cut short after its first batch
    assert np.array_equal(first, full[:4])
    (kept,) = tmp_path.glob("*.npy")
    np.save(kept, np.zeros_like(first))  # a kept batch is read back, not made again
    resumed = generate("ddpm-mnist", 6, seed=2, cache=tmp_path, **kw)
    assert (resumed[:4] == 0).all() and np.array_equal(resumed[4:], full[4:])
    assert len(list(tmp_path.glob("*.npy"))) == 2
    assert not (generate("ddpm-mnist", 4, seed=3, cache=tmp_path, **kw) == 0).all()  # other settings: not reused
    model = copy.deepcopy(hub.load("ddpm-mnist"))  # hub.load's instance is shared: change a copy
    before = cache_key(model, seed=2)
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    assert cache_key(model, seed=2) != before  # nor other weights under the same name
    gan = generate("gan-mnist", 8, seed=1, batch=4, cache=tmp_path / "gan")  # models with 0-d buffers (BatchNorm)
    assert np.array_equal(gan, generate("gan-mnist", 8, seed=1, batch=4, cache=tmp_path / "gan"))
    assert len(list((tmp_path / "gan").glob("*.npy"))) == 2


def test_heldout_loss_simple_pairs_t_and_eps_across_splits():
    """A model that predicts eps = 0 scores E||eps||^2 / d = 1; the same images score the same on both splits (the
    same t and eps); the shipped U-Net, given real digits scaled as in training ([-1, 1]), scores near its card."""
    from gen.evaluate import heldout_loss_simple
    from gen.unet import UNet

    zero = UNet(8)
    torch.nn.init.zeros_(zero.conv_out.weight), torch.nn.init.zeros_(zero.conv_out.bias)
    x, _ = data.train_sample("mnist")
    r = heldout_loss_simple(zero, x, x, n=300, batch=128)
    assert r["loss_simple_train"] == r["loss_simple_test"] and abs(r["loss_simple_train"] - 1) < 0.02
    r = heldout_loss_simple(hub.load("ddpm-mnist"), x[:300], x[300:600], n=300)
    assert 0.01 < r["loss_simple_train"] < 0.04 and 0.01 < r["loss_simple_test"] < 0.04
