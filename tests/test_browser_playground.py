"""The Training playground (its own page, /playground) in headless Chromium at 1280x720 (Play streams, Pause
stops), and its API names.

The views are <canvas> elements drawn by gen/ui/assets/playground.js from the numbers the server sends; the
script counts what it drew in the view's data-frames attribute."""
from __future__ import annotations

import time

from playwright.sync_api import Page, expect

GAN = ["ring", 500, 0, 2, 0.001, 0.001, "Adam", 1, "non-saturating", 5]


def drawn(page: Page, family: str) -> int:
    """How many frames the view has drawn so far."""
    return int(page.locator(f"#toy-{family}-view .pg").get_attribute("data-frames") or 0)


def pixels(page: Page, family: str) -> str:
    return page.locator(f"#toy-{family}-view canvas").first.evaluate("c => c.toDataURL()")


def open_playground(page: Page, sub: str | None = None) -> None:
    """The playground's own page, through the navbar (a lecture link names the family: /playground?view=ddpm)."""
    page.get_by_role("link", name="Training playground").click()
    page.wait_for_url("**/playground**")
    page.wait_for_selector("#toy-gan-view", timeout=60_000)
    if sub:
        page.get_by_role("tab", name=sub, exact=True).click()


def test_gan_play_streams_and_pause_stops(page: Page):
    open_playground(page)
    canvas = page.locator("#toy-gan-view canvas").first
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["height"] >= 400  # no scrolling needed
    count = page.locator("#toy-gan-updates input")
    expect(count).to_have_value("0", timeout=20_000)
    first, before = drawn(page, "gan"), pixels(page, "gan")
    page.locator("#toy-gan-play").click()
    t0 = time.time()
    while drawn(page, "gan") < first + 4 and time.time() - t0 < 20:  # the view changes, again and again
        page.wait_for_timeout(100)
    assert drawn(page, "gan") >= first + 4
    assert pixels(page, "gan") != before
    expect(count).not_to_have_value("0", timeout=5_000)
    page.locator("#toy-gan-pause").click()
    page.wait_for_timeout(1200)
    stopped, frames = count.input_value(), drawn(page, "gan")
    page.wait_for_timeout(1500)
    assert count.input_value() == stopped and drawn(page, "gan") == frames
    expect(page.locator("#toy-gan-algorithm")).to_contain_text("Algorithm 1")
    expect(page.locator("#toy-gan-view .pg-legend")).to_contain_text("generated G(z)")
    expect(page.locator("#toy-gan-losses canvas")).to_have_count(2)  # the losses and D's verdicts


def test_play_films_are_painted_frame_by_frame_and_pause_drops_the_rest(page: Page):
    """A Play message carries every frame made since the last one (a film); the page paints them one by one, so
    more frames are painted than messages arrive, and Pause empties the queue at once."""
    open_playground(page, "VAE")
    view = page.locator("#toy-vae-view .pg")
    page.locator("#toy-vae-view canvas").first.wait_for(timeout=60_000)
    expect(page.locator("#toy-vae-updates input")).to_have_value("0", timeout=20_000)
    assert view.evaluate("e => e.closest('[id^=\"toy-\"]').id") == "toy-vae-view"  # Pause's 'pg-stop' finds it
    films0, frames0 = int(view.get_attribute("data-films")), drawn(page, "vae")
    page.locator("#toy-vae-play").click()
    t0 = time.time()
    while int(view.get_attribute("data-films")) < films0 + 2 and time.time() - t0 < 30:
        page.wait_for_timeout(100)
    page.wait_for_timeout(3000)  # playing: films of several frames arrive every MESSAGE_EVERY s
    films, frames = int(view.get_attribute("data-films")) - films0, drawn(page, "vae") - frames0
    assert films >= 4 and frames > films + 2, (films, frames)  # several frames painted per message
    page.locator("#toy-vae-pause").click()
    page.wait_for_timeout(300)
    stopped = drawn(page, "vae")
    page.wait_for_timeout(1200)
    assert drawn(page, "vae") == stopped  # queued frames dropped, later films of that Play ignored


def test_a_setting_changed_while_playing_does_not_stop_the_animation(page: Page):
    """A single view (here: 'show t') arrives in the middle of a Play's films: painted at once, then the Play's later
    films are painted too (they used to be ignored: the view froze while the model trained on)."""
    open_playground(page, "DDPM")
    page.locator("#toy-ddpm-view canvas").first.wait_for(timeout=60_000)
    page.locator("#toy-ddpm-play").click()
    t0 = time.time()
    while drawn(page, "ddpm") < 5 and time.time() - t0 < 20:
        page.wait_for_timeout(100)
    t_box = page.locator("#toy-ddpm-t input[type=number]")
    t_box.fill("30")
    t_box.press("Enter")
    page.wait_for_timeout(1500)
    after = drawn(page, "ddpm")
    page.wait_for_timeout(2500)
    assert drawn(page, "ddpm") >= after + 3  # still animating
    page.locator("#toy-ddpm-pause").click()


def test_ddpm_and_vae_views_fit_and_step(page: Page):
    open_playground(page, "DDPM")
    canvas = page.locator("#toy-ddpm-view canvas").first
    canvas.wait_for(timeout=60_000)
    assert canvas.bounding_box()["y"] + canvas.bounding_box()["height"] <= 720
    expect(page.locator("#toy-ddpm-updates input")).to_have_value("0", timeout=20_000)
    page.wait_for_timeout(300)
    before = pixels(page, "ddpm")
    page.locator("#toy-ddpm-step").click()
    expect(page.locator("#toy-ddpm-updates input")).to_have_value("10", timeout=20_000)
    page.wait_for_timeout(300)
    assert pixels(page, "ddpm") != before
    open_playground(page, "VAE")
    page.locator("#toy-vae-view canvas").first.wait_for(timeout=60_000)
    canvases = page.locator("#toy-vae-view canvas").all()
    assert len(canvases) == 2  # data space and latent space
    for c in canvases:
        b = c.bounding_box()
        assert b["y"] + b["height"] <= 720 and b["x"] + b["width"] <= 1280


def test_api_step_names_and_state(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/toy_gan_d_step", "/toy_gan_g_step", "/toy_gan_step", "/toy_ddpm_step", "/toy_vae_step",
            "/toy_gan_play", "/toy_ddpm_play", "/toy_vae_play", "/toy_gan_reset", "/toy_ddpm_reset",
            "/toy_vae_reset", "/toy_ddpm_sample", "/toy_ddpm_t", "/toy_state", "/toy_draw_clear"} <= names
    out = client.predict(*GAN, api_name="/toy_gan_d_step")
    assert out[3] == 1
    out = client.predict(*GAN, api_name="/toy_gan_g_step")
    assert out[3] == 2
    out = client.predict(*GAN, api_name="/toy_gan_step")  # one full iteration: k = 1 D step + 1 G step
    assert out[3] == 4
    out = client.predict(10, "moons", 500, 0, "linear", 50, 0.003, 5, api_name="/toy_ddpm_step")
    assert out[3] == 10
    state = client.predict(api_name="/toy_state")
    assert state["gan"]["updates"] == 4 and state["gan"]["iterations"] == 2 and state["ddpm"]["updates"] == 10


def test_api_play_streams_and_cancel_stops_its_job(client):
    job = client.submit(*GAN, api_name="/toy_gan_play")
    t0 = time.time()
    while len(job.outputs()) < 3 and time.time() - t0 < 30:
        time.sleep(0.05)
    assert len(job.outputs()) >= 3
    job.cancel()
    time.sleep(1.5)
    state = client.predict(api_name="/toy_state")
    n = state["gan"]["updates"]
    time.sleep(1.0)
    assert client.predict(api_name="/toy_state")["gan"]["updates"] == n  # the pool job stopped with the stream
