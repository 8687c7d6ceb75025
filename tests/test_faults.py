"""Missing or corrupted checkpoints: the app still starts, the affected tab says what is wrong and how to fix it."""
from __future__ import annotations

import shutil

import pytest
from gradio_client import Client

from tests.conftest import ROOT, launch_app


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory):
    """The app with no VAE weights at all and a corrupted DDPM checkpoint, offline."""
    ckpt = tmp_path_factory.mktemp("checkpoints")
    for name in ("gan-mnist", "gan-mnist-D", "gan-fashion", "gan-fashion-D", "classifier-mnist", "ddpm-mnist"):
        shutil.copytree(ROOT / "checkpoints" / name, ckpt / name)
    weights = ckpt / "ddpm-mnist" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])  # truncated, as by an interrupted download
    proc, url = launch_app(env={"GENLAB_CHECKPOINTS": str(ckpt), "HF_HUB_OFFLINE": "1"})
    yield url
    proc.terminate()
    proc.wait(10)


def test_missing_model_gives_message_with_the_fix(broken_app):
    client = Client(broken_app, verbose=False)
    with pytest.raises(Exception, match=r"vae2-mnist.*not found.*python train/vae.py --dataset mnist --latent 2"):
        client.predict(0.0, 0.0, "MNIST", api_name="/vae_decode")


def test_corrupted_model_gives_message(broken_app):
    client = Client(broken_app, verbose=False)
    with pytest.raises(Exception, match="unreadable or corrupted"):
        client.predict("MNIST", 0, api_name="/ddpm_reset")


def test_other_tabs_still_work(broken_app):
    client = Client(broken_app, verbose=False)
    out = client.predict("MNIST", 0, None, "linear", 500, 0, api_name="/ddpm_forward")  # needs no model
    assert "t = **500**" in out[2]


def test_banner_in_the_page(broken_app, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(broken_app)
    page.get_by_text("Some models of this tab are unavailable").first.wait_for(timeout=60_000)
    assert page.get_by_text("python train/vae.py").first.is_visible()
    page.close()


def test_no_weights_and_hub_refusing_connections(tmp_path, browser):
    """A fresh machine with no checkpoints whose Hub refuses connections: the app starts and says why."""
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    proc, url = launch_app(env={"GENLAB_CHECKPOINTS": str(tmp_path), "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": dead,
                                "HF_HOME": str(tmp_path / "hf")})
    try:
        with pytest.raises(Exception, match="cannot be reached.*Train it with: python train/gan.py"):
            Client(url, verbose=False).predict(42, "MNIST", api_name="/gan_sample")
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.get_by_text("cannot be reached").first.wait_for(timeout=60_000)
        page.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_closed_sessions_are_dropped_and_open_ones_kept():
    """Housekeeping forgets a closed tab's session after CLOSED_SESSION_TTL, but not an open or busy one."""
    import datetime
    from types import SimpleNamespace

    from gradio.state_holder import StateHolder

    from gen.ui import common

    class FakeState:
        def __init__(self, closed):
            self.is_closed, self.state_components = closed, iter(())

    holder = StateHolder()
    now = datetime.datetime.now()
    old = now - datetime.timedelta(seconds=common.CLOSED_SESSION_TTL + 1)
    for sid, closed, used in [("closed-old", True, old), ("closed-new", True, now), ("open-old", False, old),
                              ("closed-busy", True, old)]:
        holder.session_data[sid], holder.time_last_used[sid] = FakeState(closed), used
    queue = SimpleNamespace(pending_event_ids_session={"closed-old": set(), "closed-busy": {"event"}},
                            pending_messages_per_session={"closed-old": object()})
    app = SimpleNamespace(state_holder=holder, get_blocks=lambda: SimpleNamespace(_queue=queue))
    assert common.drop_stale_sessions(app, now) == 1
    assert set(holder.session_data) == {"closed-new", "open-old", "closed-busy"}
    assert "closed-old" not in holder.time_last_used and "closed-old" not in queue.pending_event_ids_session
    assert not queue.pending_messages_per_session


def test_lean_gradio_rebuilds_the_queue_analytics_rarely_and_keeps_a_deployments_setting(monkeypatch):
    import gradio as gr

    from gen.ui import common

    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "")  # recorded, so that the test leaves it as it was
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY")
    monkeypatch.setenv("GRADIO_ANALYTICS_MAX_EVENTS", "77")  # set by whoever deploys it: kept
    common.lean_gradio()
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    demo.queue()
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == 1000 and demo._queue.ANALYTICS_MAX_EVENTS == 77
