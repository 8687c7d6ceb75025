"""Security: weights come only from safetensors (never a pickle), and the app serves no file it need not serve."""
from __future__ import annotations

import ast
import json
import pickle
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from gen import hub
from tests.conftest import ROOT

NAME = "vae2-mnist"
SOURCES = sorted([ROOT / "app.py", *(ROOT / "gen").rglob("*.py"), *(ROOT / "train").glob("*.py")])
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (f"{f.value.id}.{f.attr}" if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                    else f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
            yield name, node


def test_no_pickle_loading_in_the_code():
    """torch.load only in gen/training.py's resumable state, with weights_only=True; no pickle modules at all."""
    torch_loads = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not PICKLE_MODULES & {m.split(".")[0] for m in mods}, f"{where}:{node.lineno} imports {mods}"
        for name, node in calls(tree):
            kw = {k.arg: k.value for k in node.keywords}
            if name == "torch.load":
                torch_loads.append(where)
                assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
                    f"{where}:{node.lineno}: torch.load without weights_only=True"
            assert not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value), \
                f"{where}:{node.lineno}: allow_pickle=True"
            assert name not in ("read_pickle", "pd.read_pickle", "torch.jit.load"), f"{where}:{node.lineno}: {name}"
    assert torch_loads == ["gen/training.py"], torch_loads


def test_hub_reads_only_config_and_safetensors():
    src = (ROOT / "gen" / "hub.py").read_text()
    assert "torch.load" not in src and "pickle" not in src.replace("no pickles", "")
    assert "load_model(" in src  # safetensors.torch.load_model


class Marker:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return Path.touch, (self.path,)


@pytest.fixture
def checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """GENLAB_CHECKPOINTS in a temporary folder, the Hub switched off (nothing leaves the machine, no HF cache)."""
    def no_hub(*args, **kwargs) -> Path:
        raise OSError("the Hub is switched off in this test")

    monkeypatch.setenv("GENLAB_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr(hub, "_download", no_hub)
    hub.load.cache_clear()
    folder = tmp_path / "checkpoints" / NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((ROOT / "checkpoints" / NAME / "config.json").read_text()
                                        if (ROOT / "checkpoints" / NAME / "config.json").exists()
                                        else json.dumps({"latent_dim": 2}))
    yield folder
    hub.load.cache_clear()


@pytest.mark.parametrize("filename", ["pytorch_model.bin", "model.pt", "model.pth", "model.pkl", "model.ckpt"])
def test_hub_refuses_a_folder_holding_only_a_pickle(checkpoints: Path, filename: str):
    marker = checkpoints.parent.parent / "unpickled"
    (checkpoints / filename).write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(hub.ModelNotFound, match="no model.safetensors"):
        hub.load(NAME)
    assert not marker.exists()


def test_hub_refuses_a_pickle_named_safetensors(checkpoints: Path):
    marker = checkpoints.parent.parent / "unpickled"
    (checkpoints / "model.safetensors").write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(hub.ModelNotFound, match="unreadable or corrupted"):
        hub.load(NAME)
    assert not marker.exists()


# ---- files over HTTP ------------------------------------------------------------------------------

def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


SECRET_FILES = {  # path -> a piece of its content that must not come back
    "/etc/passwd": b"root:",
    str(ROOT / "app.py"): b"genlab: a live lab",
    str(ROOT / "gen" / "hub.py"): b"def fetch(",
    str(ROOT / "checkpoints" / NAME / "model.safetensors"): None,  # None: its first 256 bytes
    str(ROOT / "checkpoints" / NAME / "config.json"): None,
}


def secret(path: str) -> bytes | None:
    if not Path(path).exists():
        return None
    return SECRET_FILES[path] or Path(path).read_bytes()[:256]


def routes(path: str) -> list[str]:
    """The ways a client might ask gradio for a file: current and old routes, traversal, URL encoding."""
    rel = Path(path).relative_to(ROOT).as_posix() if path.startswith(str(ROOT)) else None
    out = []
    for prefix in ("gradio_api/file=", "file=", "gradio_api/file/", "file/"):
        out += [prefix + path, prefix + urllib.parse.quote(path, safe="")]
        if rel:
            out += [prefix + rel, prefix + "./" + rel]
        out.append(prefix + "/tmp/gradio/../.." + path)
    if rel:
        out += [f"static/../{rel}", f"assets/../../{rel}", f"gradio_api/static/../../{rel}", f"{rel}",
                f"gradio_api/file=../{ROOT.name}/{rel}"]
    return out


@pytest.mark.parametrize("path", list(SECRET_FILES))
def test_app_does_not_serve_files_outside_what_it_must(app_url: str, path: str):
    needle = secret(path)
    if needle is None:
        pytest.skip(f"{path} does not exist here")
    served = []
    for route in routes(path):
        status, body = get(app_url + route)
        if status == 200 and needle in body:
            served.append(route)
    assert not served, f"{path} is served at: {served}"


def test_app_page_and_config_leak_no_paths(app_url: str):
    """The page still loads, and the config sent to browsers names no checkpoint file."""
    status, body = get(app_url)
    assert status == 200 and b"<html" in body.lower()
    status, config = get(app_url + "config")
    assert status == 200
    assert b"model.safetensors" not in config and str(ROOT / "checkpoints").encode() not in config


def test_the_file_route_does_serve_the_apps_own_outputs(app_url: str):
    """Control for the test above: the route is right, since images the app made (in its cache) do come back."""
    _, config = get(app_url + "config")
    cached = sorted({p for p in re.findall(r'"path":\s*"([^"]+)"', config.decode()) if p.endswith(".png")
                     and not p.startswith("http")})
    assert cached, "no cached image in the config"
    status, body = get(app_url + "gradio_api/file=" + cached[0])
    assert status == 200 and body.startswith(b"\x89PNG")
