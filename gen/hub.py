"""Find a model by name: `checkpoints/<name>/` first, else its Hugging Face Hub repo.

Only `config.json` and `model.safetensors` are ever read (no pickles). The Hub path goes
through `huggingface_hub`'s cache and honours `HF_ENDPOINT` and `HF_HUB_OFFLINE`.
"""
from __future__ import annotations

import importlib
import json
import os
import socket
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model

ROOT = Path(__file__).resolve().parent.parent
HUB_ORG = "genlab-lecture"


@dataclass(frozen=True)
class Entry:
    """What the code needs to know of a model, said once: no parsing of names."""
    cls: str  # "module:Class" inside gen
    family: str  # "vae", "ae", "gan", "ddpm", "classifier"
    dataset: str  # "mnist" or "fashion"
    train: str  # the command that trains it
    role: str = "generator"  # "generator", "discriminator" (the D shipped beside a GAN), "classifier" or "guide"
    conditional: bool = False  # takes a class label y (0..9)
    guidance: float = 0.0  # conditional diffusion: the classifier-free guidance weight w it is sampled with
    guidance_t_max: int | None = None  # ... applied only while t <= this (None: at every step)
    weak: str | None = None  # unconditional diffusion: the weak model that autoguides its DDIM, with weight `guidance`
    chain_guidance: tuple[float, int | None] | None = None  # ... and Algorithm 2, with this (w, t_max), where it helps
    revision: str = "v1"  # the pinned Hub revision (a tag made when the weights were published)

    @property
    def model_class(self) -> type:
        mod, name = self.cls.split(":")
        return getattr(importlib.import_module(f"gen.{mod}"), name)


def _e(cls: str, family: str, ds: str, script: str, args: str, **kw) -> Entry:
    return Entry(cls, family, ds, f"python train/{script}.py --dataset {ds} {args}".rstrip(), **kw)


_CGAN = "--cond --loss hinge --ema 0.999 --lr-d 4e-4 --mismatch"  # the class-conditional GAN's recipe
_CGAN_MORE = {"mnist": "", "fashion": " --ms 0.1 --init checkpoints/gan-fashion --epochs 60"}  # from the GAN
REGISTRY: dict[str, Entry] = {}
# The shipped guidance weight w of each conditional DDPM (measured in the model cards): about the smallest w whose
# conditional accuracy clears 97% (MNIST) / 90% (Fashion); more guidance buys accuracy with FID (w = 1 on MNIST:
# 99.5% but FID 23 against the unconditional model's 12.5 at 2,000 samples; at w = 0.6: 97.3%, FID 11.4 vs 10.0).
# Both guide only in an interval, t <= t_max (gen.diffusion.in_interval): at 1,000 samples, Fashion's w = 3 there
# gave 92.6% at FID 6.8 where w = 1.25 at every step gave 92.3% at FID 12.2; MNIST's model after step 22,000:
# w = 0.75 while t <= 600 gave 97.0% at FID 10.8, w = 0.6 at every step 98.0% at 14.3 (the cards have the curves).
_GUIDANCE = {"mnist": 0.75, "fashion": 3.0}
_GUIDANCE_T_MAX = {"mnist": 600, "fashion": 500}
for _ds in ("mnist", "fashion"):
    REGISTRY |= {
        f"classifier-{_ds}": _e("evaluate:Classifier", "classifier", _ds, "classifier", "", role="classifier"),
        f"vae2-{_ds}": _e("vae:VAE", "vae", _ds, "vae", "--latent 2"),
        f"vae16-{_ds}": _e("vae:VAE", "vae", _ds, "vae", "--latent 16"),
        f"gan-{_ds}": _e("gan:Generator", "gan", _ds, "gan", ""),
        f"gan-{_ds}-D": _e("gan:Discriminator", "gan", _ds, "gan", "", role="discriminator"),
        f"gan-minimax-{_ds}": _e("gan:Generator", "gan", _ds, "gan", "--loss minimax"),
        f"ddpm-{_ds}": _e("unet:UNet", "ddpm", _ds, "ddpm", ""),
        f"ddpm-cond-{_ds}": _e("unet:UNet", "ddpm", _ds, "ddpm", f"--cond --init checkpoints/ddpm-{_ds}",
                               conditional=True, guidance=_GUIDANCE[_ds], guidance_t_max=_GUIDANCE_T_MAX[_ds]),
        f"cgan-{_ds}": _e("gan:Generator", "gan", _ds, "gan", _CGAN + _CGAN_MORE[_ds], conditional=True),
        f"cgan-{_ds}-D": _e("gan:Discriminator", "gan", _ds, "gan", _CGAN + _CGAN_MORE[_ds], role="discriminator",
                            conditional=True),
    }
# Each unconditional DDPM's DDIM is autoguided (gen.diffusion.AutoGuidance) by a small U-Net trained briefly (the
# cards; 5,000 samples). MNIST, w = 0.5 while t <= 400: FID 7.7 -> 5.7, rarest class 8.1%; while t <= 600 FID 4.5 but
# the rarest class (5) 7.98%: guidance at the noisier steps turns ambiguous 5s into 3s and 0s. Fashion, w = 0.7 at
# every step: FID 10.0 -> 2.2, rarest class (Shirt) 8.1% (w = 0.5: 2.6; at 1,000 samples w = 1 was worse than 0.7,
# and limiting the interval to t <= 600 or 400 worse than every step). w = 0 turns it off
# Algorithm 2, with fresh noise at every step, wants guidance only at the last, low-noise steps: on Fashion-MNIST
# (1,000 samples of its proxy DDIM-200, eta 1, the same x_T), w = 0.7 at every step 7.3 against 5.9 unguided; while
# t <= 400: 3.5, t <= 250: 3.0; w = 1 while t <= 400: 5.7. MNIST's Algorithm 2 (4.9 unguided) is shipped unguided.
_AUTOGUIDANCE = {"mnist": ((0.5, 400), (0.0, 250)), "fashion": ((0.7, None), (0.7, 250))}  # DDIM's, Algorithm 2's
for _ds, ((_w, _t_max), _chain) in _AUTOGUIDANCE.items():
    REGISTRY[f"ddpm-{_ds}"] = replace(REGISTRY[f"ddpm-{_ds}"], weak=f"ddpm-{_ds}-weak", guidance=_w,
                                      guidance_t_max=_t_max, chain_guidance=_chain)
    REGISTRY[f"ddpm-{_ds}-weak"] = _e("unet:UNet", "ddpm", _ds, "ddpm", f"--name ddpm-{_ds}-weak --ch 16 --steps 8000 "
                                      "--batch 128 --lr 4e-4 --cosine --ema 0.999", role="guide")
REGISTRY["ae2-mnist"] = _e("vae:VAE", "ae", "mnist", "vae", "--latent 2 --ae")


def generators(family: str | None = None, dataset: str | None = None, conditional: bool | None = None) -> list[str]:
    """Names of the generative models, optionally of one family / dataset / kind (registry order)."""
    return [n for n, e in REGISTRY.items() if e.role == "generator" and family in (None, e.family)
            and dataset in (None, e.dataset) and conditional in (None, e.conditional)]


def guided_model(weak: str) -> str | None:
    """The DDPM that the weak model `weak` autoguides, or None if `weak` is no registry's weak model."""
    return next((n for n, e in REGISTRY.items() if e.weak == weak), None)


class ModelNotFound(RuntimeError):
    """No usable weights for a model name; the message says what was tried and how to fix it."""


def checkpoint_dir() -> Path:
    return Path(os.environ.get("GENLAB_CHECKPOINTS", ROOT / "checkpoints"))


def repo_id(name: str) -> str:
    return f"{HUB_ORG}/{name}"


def _from_folder(cls: type, folder: Path, where: str) -> torch.nn.Module:
    try:
        config = json.loads((folder / "config.json").read_text())
        model = cls(**config)
        load_model(model, folder / "model.safetensors", device="cpu")
    except (OSError, ValueError, TypeError, RuntimeError, SafetensorError) as e:
        raise ModelNotFound(f"the weights at {where} are unreadable or corrupted ({type(e).__name__}: {e})") from e
    return model.eval()


def _reachable(url: str, timeout: float = 2.0) -> bool:
    """Can we open a TCP connection to the Hub? Avoids huggingface_hub's retries (about 30 s) when offline."""
    u = urlparse(url)
    try:
        socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout).close()
        return True
    except OSError:
        return False


def _download(repo: str, revision: str, filename: str) -> Path:
    """One file of a Hub repo: from the cache when it is there, else downloaded (if the Hub answers)."""
    from huggingface_hub import constants, hf_hub_download

    try:
        return Path(hf_hub_download(repo, filename, revision=revision, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached: go to the network below
        if constants.HF_HUB_OFFLINE:
            raise
    if not _reachable(constants.ENDPOINT):
        raise ConnectionError(f"the Hub at {constants.ENDPOINT} cannot be reached (connection refused or no network)")
    return Path(hf_hub_download(repo, filename, revision=revision))


def fetch(name: str) -> tuple[Path, str]:
    """The folder holding `name`'s files (local or Hub cache) and a description of where it came from."""
    if name not in REGISTRY:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    entry = REGISTRY[name]
    local = checkpoint_dir() / name
    tried = []
    if (local / "model.safetensors").exists():
        return local, str(local)
    tried.append(f"{local} (no model.safetensors)")
    try:
        for f in ("config.json", "model.safetensors"):
            folder = _download(repo_id(name), entry.revision, f).parent
        return folder, f"hub:{repo_id(name)}@{entry.revision}"
    except Exception as e:  # noqa: BLE001 - any Hub failure is reported with the alternatives
        first_line = str(e).splitlines()[0][:300] if str(e) else ""
        tried.append(f"Hugging Face Hub {repo_id(name)}@{entry.revision} ({type(e).__name__}: {first_line})")
    raise ModelNotFound(
        f"model {name!r} not found. Tried: " + "; ".join(tried)
        + f". Train it with: {entry.train}  (or go online / unset HF_HUB_OFFLINE to download it)"
    )


@cache
def load(name: str) -> torch.nn.Module:
    """The model `name` in eval mode on CPU, cached: the one way the app gets weights."""
    folder, where = fetch(name)
    model = _from_folder(REGISTRY[name].model_class, folder, where)
    if REGISTRY[name].family == "ddpm":  # U-Net convolutions in channels-last layout: on a 2-core AVX2 CPU a ch-32
        model.to(memory_format=torch.channels_last)  # step runs 10-25% faster, the numbers equal up to rounding
    return model


def read_json(name: str, filename: str) -> dict:
    """A JSON file shipped beside a model (training.json, metrics.json), or {} when there is none."""
    path = extra_file(name, filename)
    return json.loads(path.read_text()) if path else {}


def extra_file(name: str, filename: str) -> Path | None:
    """An optional file shipped beside a model (training history, snapshots), or None."""
    local = checkpoint_dir() / name / filename
    if local.exists():
        return local
    try:
        return _download(repo_id(name), REGISTRY[name].revision, filename)
    except Exception:  # noqa: BLE001 - extras are optional
        return None
