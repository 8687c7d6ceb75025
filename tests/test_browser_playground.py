"""The Training playground in headless Chromium at 1280x720 (Play streams, Pause stops), and its API names."""
from __future__ import annotations

import time

from playwright.sync_api import Page, expect

GAN = ["ring", 500, 0, 2, 0.001, 0.001, "Adam", 1, "non-saturating", 5]


def view_src(page: Page, family: str) -> str:
    return page.locator(f"#toy-{family}-view img").first.get_attribute("src") or ""


def open_playground(page: Page, sub: str | None = None) -> None:
    page.get_by_role("tab", name="Training playground").click()
    if sub:
        page.get_by_role("tab", name=sub, exact=True).last.click()


def test_gan_play_streams_and_pause_stops(page: Page):
    open_playground(page)
    page.wait_for_selector("#toy-gan-view img", timeout=60_000)
    box = page.locator("#toy-gan-view img").first.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720  # the main plot needs no scrolling
    count = page.locator("#toy-gan-updates input")
    expect(count).to_have_value("0", timeout=20_000)
    first = view_src(page, "gan")
    page.locator("#toy-gan-play").click()
    frames, t0 = {first}, time.time()
    while len(frames) < 4 and time.time() - t0 < 20:  # the plot changes, again and again
        page.wait_for_timeout(100)
        frames.add(view_src(page, "gan"))
    assert len(frames) >= 4
    assert int(count.input_value()) > 0
    page.locator("#toy-gan-pause").click()
    page.wait_for_timeout(1200)
    stopped, stopped_src = count.input_value(), view_src(page, "gan")
    page.wait_for_timeout(1500)
    assert count.input_value() == stopped and view_src(page, "gan") == stopped_src
    expect(page.locator("#toy-gan-algorithm")).to_contain_text("Algorithm 1")


def test_ddpm_and_vae_views_fit_and_step(page: Page):
    open_playground(page, "DDPM")
    page.wait_for_selector("#toy-ddpm-view img", timeout=60_000)
    box = page.locator("#toy-ddpm-view img").first.bounding_box()
    assert box["y"] + box["height"] <= 720
    before = view_src(page, "ddpm")
    page.locator("#toy-ddpm-step").click()
    expect(page.locator("#toy-ddpm-updates input")).to_have_value("10", timeout=20_000)
    assert view_src(page, "ddpm") != before
    open_playground(page, "VAE")
    page.wait_for_selector("#toy-vae-view img", timeout=60_000)
    for img in page.locator("#toy-vae-view img").all():  # data space and latent space
        b = img.bounding_box()
        assert b["y"] + b["height"] <= 720 and b["x"] + b["width"] <= 1280


def test_api_step_names_and_state(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/toy_gan_d_step", "/toy_gan_g_step", "/toy_gan_step", "/toy_ddpm_step", "/toy_vae_step",
            "/toy_state"} <= names
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
