"""Sample quality: `python -m gen.evaluate --model NAME [--n 5000] [--data mnist.npz]`.

FID in the feature space of a small classifier trained on the same dataset (not Inception:
28x28 grey digits are far from ImageNet), against the test set, with the real-vs-real baseline
(as many real training images against the same test set); the class histogram of the samples
(mode coverage); and for VAEs the test ELBO in nats per image.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from gen import data, hub
from gen.images import to_float


class Classifier(nn.Module, PyTorchModelHubMixin, library_name="genlab", tags=["classifier", "genlab"]):
    """A small CNN; its 128-d penultimate layer is the FID feature space."""

    def __init__(self, dataset: str = "mnist"):
        super().__init__()
        self.dataset = dataset
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@torch.no_grad()
def features_and_labels(clf: Classifier, images: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    clf = clf.to(device).eval()
    feats, preds = [], []
    for i in range(0, len(images), 2000):
        f = clf.features(to_float(images[i:i + 2000]).to(device))
        feats.append(f.double().cpu())
        preds.append(clf.head(f).argmax(1).cpu())
    return torch.cat(feats).numpy(), torch.cat(preds).numpy()


def fid(f1: np.ndarray, f2: np.ndarray) -> float:
    # FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # Tr((S1 S2)^(1/2)) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1))), all symmetric PSD: stable without scipy
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(w.clip(min=0))) @ v.T
    tr_sqrt = np.sqrt(np.linalg.eigvalsh(r1 @ s2 @ r1).clip(min=0)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


@torch.no_grad()
def test_elbo(model: nn.Module, x_test: np.ndarray, device: str = "cpu") -> dict[str, float]:
    """Mean test ELBO and its two terms, nats per image (one z sample per image, fixed seed)."""
    torch.manual_seed(0)
    model = model.to(device).eval()
    tot = torch.zeros(3, dtype=torch.float64)
    for i in range(0, len(x_test), 1000):
        _, e = model(to_float(x_test[i:i + 1000]).to(device))
        tot += torch.stack([e.elbo.sum(), e.recon.sum(), e.kl.sum()]).double().cpu()
    elbo, recon, kl = (tot / len(x_test)).tolist()
    return {"test_elbo_nats": elbo, "test_recon_nats": recon, "test_kl_nats": kl}


def conditional_accuracy(predicted: np.ndarray, requested: np.ndarray) -> float:
    """How often the classifier sees the class that was asked for: does p(x | y) give a y?"""
    return float((predicted == requested).mean())


def evaluate(name: str, n: int = 5000, npz: str | None = None, device: str = "cpu", seed: int = 0,
             sampler: str = "ddpm", steps: int = 50, eta: float = 0.0, bf16: bool = False,
             guidance: float | None = None, t_max: int | None | str = "shipped", cache: str | None = None) -> dict:
    """FID against the test set, its real-vs-real baseline, the class histogram; the test ELBO for VAEs; for
    conditional models, n balanced samples (label i % 10) and the conditional accuracy. `cache`: see generate."""
    from gen.sample import family, generate, guidance_t_max, requested_labels, sampler_label, shipped_guidance

    model = hub.load(name)
    ds = model.dataset
    x_test, _ = data.load(ds, "test", npz)
    x_train, _ = data.load(ds, "train", npz)
    clf = hub.load(f"classifier-{ds}")
    f_test, _ = features_and_labels(clf, x_test, device)
    real = x_train[np.random.default_rng(seed).choice(len(x_train), n, replace=False)]
    f_real, _ = features_and_labels(clf, real, device)
    samples = generate(name, n, seed, sampler, steps, device, eta=eta, bf16=bf16, guidance=guidance, t_max=t_max,
                       cache=cache)
    f_fake, labels = features_and_labels(clf, samples, device)
    asked = requested_labels(name, n)
    hist = np.bincount(labels, minlength=10) / n
    out = {"model": name, "n_samples": n, "fid": fid(f_fake, f_test), "fid_real_vs_real": fid(f_real, f_test),
           "class_histogram": {c: round(float(h), 4) for c, h in zip(data.CLASSES[ds], hist)},
           "min_class_fraction": float(hist.min())}
    if asked is not None:
        out["conditional_accuracy"] = conditional_accuracy(labels, asked)
    if family(name) == "ddpm":
        w = shipped_guidance(name, sampler)[0] if guidance is None else guidance
        t_max = guidance_t_max(name, t_max, sampler)
        out["sampler"] = sampler_label(name, sampler, steps, eta, w, t_max, bf16)
        if asked is not None:
            out["guidance_w"] = w
            out["guided_while"] = "every step" if t_max is None else f"t <= {t_max}"
    if family(name) in ("vae", "ae"):
        out.update(test_elbo(model, x_test, device))
    return out


@torch.no_grad()
def heldout_loss_simple(model: nn.Module, x_train: np.ndarray, x_test: np.ndarray, n: int = 4000, seed: int = 0,
                        batch: int = 500) -> dict[str, float]:
    """A DDPM's L_simple on n training and n test images, with the same t and eps for both: a test loss above the
    training loss is overfitting (ddpm-mnist's card: more training lowered the first and raised the second)."""
    from gen.diffusion import loss_simple, schedule_of

    sch, out = schedule_of(model), {}
    for split, images in (("train", x_train), ("test", x_test)):
        x, total = to_float(images[:n], signed=True), 0.0
        with torch.random.fork_rng(devices=[]):  # the same t and eps for both splits; the caller's RNG untouched
            torch.manual_seed(seed)
            for i in range(0, len(x), batch):
                total += loss_simple(model, x[i:i + batch], sch).item() * len(x[i:i + batch])
        out[f"loss_simple_{split}"] = round(total / len(x), 5)
    return out


def guidance_curve(name: str, ws: list[float], n: int, **kw) -> list[dict]:
    """The fidelity-diversity trade-off of classifier-free guidance, measured: FID, conditional accuracy and the
    rarest class at each guidance weight w (n balanced samples each)."""
    return [{"w": w, **{k: r[k] for k in ("n_samples", "fid", "fid_real_vs_real", "conditional_accuracy",
                                       "min_class_fraction", "guided_while")}}
            for w in ws for r in [evaluate(name, n, guidance=w, **kw)]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0, help="picks the samples and the real images of the baseline")
    p.add_argument("--data", default=None, help="Keras-layout .npz (default: torchvision download to ./data)")
    p.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddpm", help="DDPM models only")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps S")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta (1: stochastic, like Algorithm 2)")
    p.add_argument("--bf16", action="store_true", help="DDPM models: sample with the U-Net under bfloat16 autocast")
    p.add_argument("--guidance", type=float, default=None, help="conditional DDPMs: guidance weight w; "
                   "unconditional ones: their autoguidance weight, 0: off (default: the model's shipped w)")
    from gen.sample import add_t_max, guidance_t_max

    add_t_max(p)
    p.add_argument("--curve", default=None, help="conditional DDPMs: also measure these guidance weights, e.g. "
                   "0,0.5,1,2,4 (the fidelity-diversity curve of the model card)")
    p.add_argument("--curve-n", type=int, default=1000, help="samples per point of --curve")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cache", default=None, help="keep each finished batch of samples in this folder, so that an "
                   "interrupted run (Algorithm 2: 1.5 h on 2 CPU cores) resumes when run again")
    p.add_argument("--heldout", action="store_true", help="DDPM models: only L_simple on --n training and --n test "
                   "images, with the same t and eps (overfitting shows as a gap); no sampling")
    p.add_argument("--write", action="store_true", help="store the figures as checkpoints/NAME/metrics.json "
                   "and refresh the model card")
    p.add_argument("--also", action="store_true", help="with --write: add the figures as one row of the card's "
                   "comparison of samplers (DDPM models), keeping the model's own figures")
    a = p.parse_args()
    kw = dict(npz=a.data, device=a.device, seed=a.seed, sampler=a.sampler, steps=a.steps, eta=a.eta, bf16=a.bf16,
              cache=a.cache)
    kw["t_max"] = a.guidance_t_max
    if a.heldout:
        model = hub.load(a.model)
        splits = [data.load(model.dataset, split, a.data)[0] for split in ("train", "test")]
        print(json.dumps({"model": a.model, "n": a.n, **heldout_loss_simple(model, *splits, a.n, a.seed)}, indent=2))
        return
    r = evaluate(a.model, a.n, guidance=a.guidance, **kw)
    if a.curve:  # at every step and, if guidance is limited to an interval, there too: what the interval buys
        ws, t_max = [float(w) for w in a.curve.split(",")], guidance_t_max(a.model, kw.pop("t_max"), a.sampler)
        r["guidance_curve"] = [p for tm in dict.fromkeys([None, t_max])
                               for p in guidance_curve(a.model, ws, a.curve_n, t_max=tm, **kw)]
    print(json.dumps(r, indent=2))
    if a.write:
        from gen.training import write_card

        folder = hub.checkpoint_dir() / a.model
        r["command"] = "python -m gen.evaluate " + " ".join(sys.argv[1:])  # the card says how it was measured
        if a.also:  # one sampler's row, replacing an earlier row of the same sampler
            row = {k: r[k] for k in ("sampler", "n_samples", "fid", "fid_real_vs_real", "min_class_fraction",
                                     "command")}
            m = json.loads((folder / "metrics.json").read_text())
            r = {**m, "samplers": [s for s in m.get("samplers", []) if s["sampler"] != row["sampler"]] + [row]}
        (folder / "metrics.json").write_text(json.dumps(r, indent=2))
        write_card(folder)


if __name__ == "__main__":
    main()
