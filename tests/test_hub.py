"""gen.hub: local checkpoints first, else the Hub (a local fake of it), the HF cache, offline mode, clear errors."""
from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gen import hub
from gen.vae import VAE
from tests.hub_server import serve

ROOT = Path(__file__).resolve().parent.parent
NAME = "vae2-mnist"
REPO = hub.repo_id(NAME)


def checksum(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + v.contiguous().numpy().tobytes())
    return h.hexdigest()


# Run in a fresh interpreter because huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE / HF_HOME at import.
DRIVER = "import hashlib, sys\nimport torch\n" + inspect.getsource(checksum) + """
from gen import hub
try:
    print("OK", checksum(hub.load(sys.argv[1])))
except hub.ModelNotFound as e:
    print("NOTFOUND", e)
"""


def tiny_vae(folder: Path, seed: int = 0) -> str:
    """Save a tiny VAE the way training does (config.json + model.safetensors); returns its checksum."""
    torch.manual_seed(seed)
    model = VAE(latent_dim=2, hidden=16)
    model.save_pretrained(folder)
    return checksum(model)


def load_in_subprocess(tmp_path: Path, endpoint: str, offline: bool) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "GENLAB_"))}
    (tmp_path / "checkpoints").mkdir(exist_ok=True)  # empty unless a test puts a model there
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1" if offline else "0",
            "HF_HUB_DISABLE_TELEMETRY": "1", "GENLAB_CHECKPOINTS": str(tmp_path / "checkpoints")}
    proc = subprocess.run([sys.executable, "-c", DRIVER, NAME], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr  # ModelNotFound is printed, anything else is a crash
    return proc.stdout.strip()


def test_download_then_offline_from_cache(tmp_path: Path) -> None:
    expected = tiny_vae(tmp_path / "published")
    with serve({REPO: tmp_path / "published"}, revision="v1") as server:
        assert load_in_subprocess(tmp_path, server.url, offline=False) == f"OK {expected}"
    for f in ("config.json", "model.safetensors"):
        assert server.requested(f, "HEAD") and server.requested(f, "GET"), server.requests
    # The server is gone: offline mode must answer from the HF cache alone.
    assert load_in_subprocess(tmp_path, server.url, offline=True) == f"OK {expected}"


def test_unreachable_hub_and_nothing_cached(tmp_path: Path) -> None:
    with serve({}) as server:
        pass  # stopped: connections to its port are refused
    out = load_in_subprocess(tmp_path, server.url, offline=False)
    assert out.startswith("NOTFOUND") and REPO in out and "python train/vae.py" in out, out


def test_local_checkpoint_wins_over_hub(tmp_path: Path) -> None:
    local = tiny_vae(tmp_path / "checkpoints" / NAME, seed=1)
    tiny_vae(tmp_path / "published", seed=2)
    with serve({REPO: tmp_path / "published"}) as server:
        assert load_in_subprocess(tmp_path, server.url, offline=False) == f"OK {local}"
    assert server.requests == []


class Marker:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return Path.touch, (self.path,)


def test_pickles_are_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    for folder in (tmp_path / "checkpoints" / NAME, tmp_path / "published"):
        tiny_vae(folder)
        (folder / "model.safetensors").unlink()
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Marker(marker)))
    with serve({REPO: tmp_path / "published"}) as server:
        out = load_in_subprocess(tmp_path, server.url, offline=False)
    assert out.startswith("NOTFOUND") and "no model.safetensors" in out, out
    assert not marker.exists()
    assert not any(p.endswith(".bin") for _, p in server.requests), server.requests


@pytest.fixture
def checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An in-process GENLAB_CHECKPOINTS, with the Hub switched off so nothing leaves the machine."""
    def no_hub(name: str, entry: hub.Entry) -> Path:
        raise OSError("the Hub is switched off in this test")

    monkeypatch.setenv("GENLAB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setattr(hub, "_download", no_hub)
    hub.load.cache_clear()
    yield tmp_path
    hub.load.cache_clear()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupted_weights(checkpoints: Path, damage: str) -> None:
    tiny_vae(checkpoints / NAME)
    weights = checkpoints / NAME / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a safetensors file")
    with pytest.raises(hub.ModelNotFound, match="unreadable or corrupted"):
        hub.load(NAME)


def test_local_checkpoint_loads_in_process(checkpoints: Path) -> None:
    expected = tiny_vae(checkpoints / NAME)
    model = hub.load(NAME)
    assert checksum(model) == expected and not model.training


def test_unknown_name_lists_known_models(checkpoints: Path) -> None:
    with pytest.raises(hub.ModelNotFound, match="known: .*vae2-mnist"):
        hub.load("vae3-cifar")
