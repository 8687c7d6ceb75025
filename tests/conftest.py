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
    # Keep reading the app's output, or a full pipe would freeze it; the tail is kept for error messages, and each
    # traceback whole (app_url checks them).
    proc.log, proc.tracebacks = collections.deque(maxlen=500), []

    def read() -> None:
        inside = False  # within a traceback: its frames are indented, its exception line ends it
        for line in proc.stdout:
            proc.log.append(line)
            if line.startswith("Traceback"):
                inside = True
                proc.tracebacks.append(line)
            elif inside:
                proc.tracebacks[-1] += line
                inside = line[:1].isspace()
    threading.Thread(target=read, daemon=True).start()
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
    # every test that drove the app ran; none may have made it raise anything but a clear message (gr.Error, which
    # Gradio's own input checks print): a visitor would have seen a bare error toast
    bugs = [t for t in proc.tracebacks if not t.rstrip().splitlines()[-1].startswith("gradio.exceptions.Error")]
    assert not bugs, "the app raised:\n" + "\n".join(bugs)


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
