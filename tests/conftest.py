"""Shared fixtures: one launched app per test session (a real `python app.py`), and headless Chromium."""
from __future__ import annotations

import collections
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def run_async(coro):
    """asyncio.run(coro) on a thread of its own: once a Playwright test ran, its sync API holds this thread's
    event loop, and asyncio.run refuses to start another one there."""
    import asyncio

    out: list = []

    def main():
        try:
            out.append((True, asyncio.run(coro)))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            out.append((False, e))

    t = threading.Thread(target=main)
    t.start()
    t.join()
    ok, value = out[0]
    if not ok:
        raise value
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(env: dict | None = None, port: int | None = None, cwd: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """Start `python app.py` (of the checkout `cwd`) on a free port with no network needed; returns the process
    and its URL."""
    port = port or free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(env or {})}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Keep reading the app's output, or a full pipe would freeze it; the tail is kept for error messages.
    proc.log = collections.deque(maxlen=500)
    threading.Thread(target=lambda: proc.log.extend(proc.stdout), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        if proc.poll() is not None:
            time.sleep(0.5)
            raise RuntimeError("app exited: " + "".join(proc.log))
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("app did not start in 120 s")


@contextlib.contextmanager
def chromium_page(url: str, width: int = 1280, height: int = 720):
    """A headless Chromium page open at url (for benchmarks; tests use the fixtures below)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            yield page
        finally:
            b.close()


@pytest.fixture(scope="session")
def app_url():
    proc, url = launch_app()
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium. Missing Chromium skips, except under CI (GENLAB_STRICT=1), where it fails."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        msg = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("GENLAB_STRICT") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    p = browser.new_page(viewport={"width": 1280, "height": 720})
    p.goto(app_url)
    p.wait_for_selector("button[role=tab]", timeout=60_000)
    yield p
    p.close()


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    """256 shipped MNIST training images and 64 more as the test split, in the Keras layout `--data` reads."""
    import numpy as np

    from gen import data

    x, y = data.train_sample("mnist")
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=x[:256], y_train=y[:256], x_test=x[256:320], y_test=y[256:320])
    return path
