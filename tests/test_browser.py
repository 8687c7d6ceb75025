"""Each tab driven in headless Chromium at 1280x720, as a visitor would."""
from __future__ import annotations

from playwright.sync_api import Page, expect


def src(page: Page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} img").first.get_attribute("src") or ""


def wait_src_change(page: Page, elem_id: str, old: str, timeout: int = 20_000) -> str:
    page.wait_for_function(
        "([id, old]) => { const i = document.querySelector(`#${id} img`); return i && i.src && i.src !== old; }",
        arg=[elem_id, old], timeout=timeout)
    return src(page, elem_id)


def drag_slider(page: Page, label: str, frac: float) -> None:
    """Click a slider's track at a fraction of its width, as a mouse would."""
    rng = page.get_by_label(f"range slider for {label}", exact=True)
    box = rng.bounding_box()
    page.mouse.click(box["x"] + frac * box["width"], box["y"] + box["height"] / 2)


def test_vae_slider_changes_decoded_image(page: Page):
    page.get_by_role("tab", name="VAE").click()
    page.wait_for_selector("#vae-decoded img")
    before = src(page, "vae-decoded")
    drag_slider(page, "z1", 0.9)
    after = wait_src_change(page, "vae-decoded", before)
    assert after != before
    assert page.locator("#vae-decoded img").is_visible()


def test_vae_sketchpad_draw_gives_reconstruction(page: Page):
    page.get_by_role("tab", name="VAE").click()
    sketch = page.locator("#vae-sketch")
    sketch.scroll_into_view_if_needed()
    sketch.get_by_role("button", name="Brush", exact=True).click()
    canvas = sketch.locator("canvas").last
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy - 80)
    page.mouse.down()
    for i in range(17):  # a vertical stroke: a "1"
        page.mouse.move(cx + i, cy - 80 + 10 * i)
    page.mouse.up()
    page.wait_for_selector("#vae-recon img", timeout=30_000)
    expect(page.locator("#vae-numbers")).to_contain_text("ELBO", timeout=30_000)


def test_ddpm_step_changes_image_and_t(page: Page):
    page.get_by_role("tab", name="DDPM diffusion").click()
    page.wait_for_selector("#ddpm-xt img")
    t_box = page.locator("#ddpm-t input")
    expect(t_box).to_have_value("1000", timeout=20_000)
    before = src(page, "ddpm-xt")
    page.get_by_role("button", name="Step 10", exact=True).click()
    wait_src_change(page, "ddpm-xt", before)
    expect(t_box).to_have_value("990", timeout=20_000)
    expect(page.locator("#ddpm-numbers")).to_contain_text("Algorithm 2")


def test_ddpm_play_streams_and_pause_stops(page: Page):
    page.get_by_role("tab", name="DDPM diffusion").click()
    t_box = page.locator("#ddpm-t input")
    expect(t_box).to_have_value("1000", timeout=20_000)
    page.locator("#ddpm-play").click()
    page.wait_for_function("() => +document.querySelector('#ddpm-t input').value < 950", timeout=20_000)
    page.locator("#ddpm-pause").click()
    page.wait_for_timeout(1000)
    stopped = t_box.input_value()
    page.wait_for_timeout(1500)
    assert t_box.input_value() == stopped and int(stopped) > 0
