"""Each tab driven in headless Chromium at 1280x720, as a visitor would."""
from __future__ import annotations

import re

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
    # The editor sets up its canvas and layers after it is shown; a stroke before that is lost.
    expect(sketch.get_by_text("Layer 1")).to_be_visible(timeout=30_000)
    sketch.get_by_role("button", name="Brush", exact=True).click()
    canvas = sketch.locator("canvas").last
    recon = page.locator("#vae-recon img")
    for attempt in range(2):  # a visitor whose first stroke was lost draws again; so may the test, once
        box = canvas.bounding_box()
        cx, cy = box["x"] + box["width"] / 2 + 20 * attempt, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy - 80)
        page.mouse.down()
        for i in range(17):  # a vertical stroke: a "1"
            page.mouse.move(cx + i, cy - 80 + 10 * i)
        page.mouse.up()
        try:
            recon.wait_for(state="visible", timeout=20_000 if attempt == 0 else 40_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; the second wait raises it
            if attempt:
                raise
    expect(page.locator("#vae-numbers")).to_contain_text("ELBO", timeout=30_000)


def test_ddpm_step_changes_image_and_t(page: Page):
    page.get_by_role("tab", name="DDPM diffusion").click()
    page.wait_for_selector("#ddpm-xt img")
    t_now = page.locator("#ddpm-t")
    expect(t_now).to_have_text("1000", timeout=60_000)
    before = src(page, "ddpm-xt")
    page.get_by_role("button", name="Step 10", exact=True).click()
    wait_src_change(page, "ddpm-xt", before)
    expect(t_now).to_have_text("990", timeout=20_000)
    expect(page.locator("#ddpm-numbers")).to_contain_text("Algorithm 2")


def test_ddpm_play_streams_and_pause_stops(page: Page):
    page.get_by_role("tab", name="DDPM diffusion").click()
    t_now = page.locator("#ddpm-t")
    expect(t_now).to_have_text("1000", timeout=60_000)
    page.locator("#ddpm-every input[type=radio]").first.check()  # every step shown
    page.locator("#ddpm-play").click()
    # the player paints frames one by one in the page, not only once per message from the server
    seen = page.evaluate("""async () => {
      const ts = new Set(); const t0 = performance.now();
      while (performance.now() - t0 < 60000 && ts.size < 20) {
        ts.add(document.querySelector('#ddpm-t').textContent);
        await new Promise(r => requestAnimationFrame(r));
      }
      return [...ts].map(Number);
    }""")
    assert len(seen) >= 20 and all(a - b == 1 for a, b in zip(seen[1:], seen[2:])), seen
    page.locator("#ddpm-pause").click()
    page.wait_for_timeout(1000)
    stopped = t_now.text_content()
    page.wait_for_timeout(1500)
    assert t_now.text_content() == stopped and 0 < int(stopped) < 1000
    before = src(page, "ddpm-xt")
    page.get_by_role("button", name="Step 1", exact=True).click()  # stepping goes on from where Pause stopped
    wait_src_change(page, "ddpm-xt", before)
    expect(t_now).to_have_text(str(int(stopped) - 1), timeout=20_000)


def test_cgan_class_pick_changes_sample_and_grid(page: Page):
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.locator("#cgan-image img").wait_for(state="attached", timeout=30_000)
    page.locator("#cgan-class").scroll_into_view_if_needed()
    sample, grid = src(page, "cgan-image"), src(page, "cgan-grid")
    expect(page.locator("#cgan-text")).to_contain_text("y = 7")
    page.locator("#cgan-class").get_by_label("3", exact=True).check()
    wait_src_change(page, "cgan-image", sample)
    grid = wait_src_change(page, "cgan-grid", grid)  # the picked class's column is framed
    expect(page.locator("#cgan-text")).to_contain_text("y = 3")
    seed = page.locator("#cgan-seed input")
    seed.fill("100")
    seed.press("Enter")
    wait_src_change(page, "cgan-grid", grid)  # other seeds: other rows (styles)
    expect(page.locator("#cgan-grid-label")).to_contain_text("seeds 100 … 104")


MAIN_IMAGE = {"VAE": "vae-decoded", "GAN": "gan-image", "DDPM diffusion": "ddpm-xt"}


def test_main_image_of_each_tab_fits_1280x720(browser, app_url):
    """The projector check: each tab's main image is fully on the first screen, normal and presentation mode."""
    for query in ("", "?present=1"):
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(app_url + query)
        for tab, elem_id in MAIN_IMAGE.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            img = page.locator(f"#{elem_id} img")
            img.wait_for(timeout=30_000)
            box = page.locator(f"#{elem_id}").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 720, (query, tab, box)
            assert box["height"] >= 240, (query, tab, box)  # large enough to read from the back
        page.close()


def test_clicking_the_latent_map_sets_z(page: Page):
    page.get_by_role("tab", name="VAE").click()
    m = page.locator("#vae-map img")
    m.wait_for()
    box = m.bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + 0.25 * box["height"])  # z = (1.5, 1.5)
    expect(page.get_by_label("number input for z1")).to_have_value(re.compile(r"^1\.[45]"), timeout=20_000)
    expect(page.get_by_label("number input for z2")).to_have_value(re.compile(r"^1\.[45]"))


def test_gan_seed_change_changes_image(page: Page):
    """◀ ▶, a grid click and a typed seed each bring the image, D's verdict, the grid and the objective along."""
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.wait_for_selector("#gan-image img")
    before = src(page, "gan-image")
    page.locator("#gan-next").click()
    after = wait_src_change(page, "gan-image", before)
    box = page.get_by_label("seed", exact=True)
    expect(box).to_have_value("43")
    expect(page.locator("#gan-d")).to_contain_text("seed 43")
    expect(page.locator("#gan-objective")).to_contain_text("(seed 43)")
    page.locator("#gan-prev").click()
    page.locator("#gan-prev").click()  # 41: out of the grid of 42 … 57, so the grid moves
    expect(page.locator("#gan-grid-label")).to_contain_text("seeds 41 … 56", timeout=20_000)
    expect(page.locator("#gan-objective")).to_contain_text("(seed 41)")
    page.locator("#gan-grid .thumbnail-item").nth(3).click()  # the grid's fourth cell: seed 44
    expect(box).to_have_value("44", timeout=20_000)
    expect(page.locator("#gan-objective")).to_contain_text("(seed 44)")
    after = src(page, "gan-image")
    box.fill("7")
    box.press("Enter")
    wait_src_change(page, "gan-image", after)
    expect(page.locator("#gan-grid-label")).to_contain_text("seeds 7 … 22", timeout=20_000)
    expect(page.locator("#gan-objective")).to_contain_text("(seed 7)")


def test_gan_typed_seed_out_of_range_warns_and_buttons_stay_fast(page: Page):
    """◀ ▶ skip Gradio's queue (common.FAST), which shows no gr.Warning: a typed seed, which may need one, is queued."""
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.wait_for_selector("#gan-image img")
    box = page.get_by_label("seed", exact=True)
    box.fill("-7")
    box.press("Enter")
    expect(page.locator(".toast-body")).to_contain_text("seed -7 is outside", timeout=20_000)
    expect(box).to_have_value("0", timeout=20_000)
    before = src(page, "gan-image")
    page.locator("#gan-next").click()
    wait_src_change(page, "gan-image", before)
    expect(box).to_have_value("1")


def test_ddpm_guided_chain_draws_the_picked_class(page: Page):
    """Pick a class, run the guided chain to x_0: the guidance panel shows, and x̂_0 is that class."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from gen import hub
    from gen.evaluate import features_and_labels

    page.get_by_role("tab", name="DDPM diffusion").click()
    t_now = page.locator("#ddpm-t")
    expect(t_now).to_have_text("1000", timeout=60_000)
    page.locator("#ddpm-class input").click()
    page.get_by_role("option", name="7", exact=True).click()
    page.get_by_label("jump to t").fill("0")
    page.get_by_role("button", name="Jump", exact=True).click()
    expect(t_now).to_have_text("0", timeout=120_000)
    expect(page.locator("#ddpm-chain .cfg")).to_be_visible()
    expect(page.locator("#ddpm-cfg")).to_contain_text("y = 7")
    url = page.locator('#ddpm-chain img[data-k="x0_hat"]').get_attribute("src")
    x0 = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    _, label = features_and_labels(hub.load("classifier-mnist"), x0[None])
    assert label[0] == 7


def test_ddpm_samples_are_there_on_opening_the_page_with_no_error(page: Page):
    """The tab's first view is filled on page open (links.on_load): the DDIM grid arrives and no error toast shows."""
    page.get_by_role("tab", name="DDPM diffusion").click()
    page.get_by_role("tab", name="DDPM vs DDIM, samples").click()
    expect(page.locator("#ddpm-samples img")).to_be_visible(timeout=60_000)
    expect(page.locator(".toast-body")).to_have_count(0)


def test_ddpm_autoguidance_w_follows_the_dataset(page: Page):
    """Each dataset's DDPM ships its own autoguidance w: the slider shows the picked dataset's."""
    from gen import hub

    assert hub.REGISTRY["ddpm-fashion"].guidance != hub.REGISTRY["ddpm-mnist"].guidance  # else a switch shows nothing
    page.get_by_role("tab", name="DDPM diffusion").click()
    page.get_by_role("tab", name="DDPM vs DDIM, samples").click()
    ag = page.locator("#ddpm-ag input[type=number]")
    cag = page.locator("#ddpm-cag input[type=number]")  # Algorithm 2's
    expect(ag).to_have_value(f"{hub.REGISTRY['ddpm-mnist'].guidance:g}", timeout=30_000)  # on opening the tab
    expect(cag).to_have_value(f"{hub.REGISTRY['ddpm-mnist'].chain_guidance[0]:g}", timeout=30_000)
    for ds, name in (("Fashion-MNIST", "ddpm-fashion"), ("MNIST", "ddpm-mnist")):
        page.locator(f"input[value='{ds}']:visible").first.check()
        expect(ag).to_have_value(f"{hub.REGISTRY[name].guidance:g}", timeout=30_000)
        expect(cag).to_have_value(f"{hub.REGISTRY[name].chain_guidance[0]:g}", timeout=30_000)
