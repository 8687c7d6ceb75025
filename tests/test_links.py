"""Lecture links: a URL opens a prepared view (tab, dataset, seed, t, sliders); "copy link" gives a URL that
reopens the view on screen; bad values are ignored or clamped."""
from __future__ import annotations

import io

import gradio as gr
import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from gen.ui import links


def test_parse_clamps_numbers_and_ignores_what_a_component_cannot_take():
    with gr.Blocks():
        seed = gr.Number(0, precision=0, minimum=0)
        t = gr.Slider(0, 1000, 100, step=1)
        psi = gr.Slider(0, 1.5, 1.0, step=0.05)
        ds = gr.Radio(["MNIST", "Fashion-MNIST"], value="MNIST")
        y = gr.Dropdown([("none: p(x)", "none"), ("7", "7")], value="none")
    assert links.parse(seed, "abc") is None and links.parse(seed, "inf") is None
    assert links.parse(seed, "-5") == 0 and links.parse(seed, "42") == 42
    assert links.parse(t, "5000") == 1000 and links.parse(t, "499.6") == 500
    assert links.parse(psi, "0.52") == 0.5
    assert links.parse(ds, "fashion") == "Fashion-MNIST" and links.parse(ds, "MNIST") == "MNIST"
    assert links.parse(ds, "cifar") is None
    assert links.parse(y, "7") == "7" and links.parse(y, "none") == "none" and links.parse(y, "12") is None


def _open(browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url)
    page.wait_for_selector("button[role=tab]", timeout=60_000)
    return page


def _src(page: Page, elem_id: str) -> str:
    """An image's path on the server: images are stored under the hash of their bytes, so equal paths are equal
    images."""
    src = page.locator(f"#{elem_id} img").first.get_attribute("src") or ""
    return src.split("file=", 1)[-1]


def _selected(page: Page, tab: str) -> None:
    expect(page.get_by_role("tab", name=tab, exact=True)).to_have_attribute("aria-selected", "true", timeout=30_000)


def test_a_gan_link_opens_that_seed_dataset_and_truncation(browser, app_url, client):
    page = _open(browser, app_url + "?tab=gan&ds=fashion&seed=7&psi=0.5")
    _selected(page, "GAN")
    expect(page.locator("#gan-dataset input[value='Fashion-MNIST']")).to_be_checked()
    expect(page.locator("#gan-seed input")).to_have_value("7")
    expect(page.locator("#gan-d")).to_contain_text("seed 7 · ψ = 0.50", timeout=60_000)
    expect(page.locator("#gan-grid-label")).to_contain_text("seeds 7 … 22", timeout=60_000)
    expect(page.locator("#gan-real")).to_be_attached()
    # the image on screen is the one the API draws for these values
    path, _ = client.predict(7, "Fashion-MNIST", 0.5, 0, 0, 0, api_name="/gan_sample")
    page.wait_for_function("id => document.querySelector(`#${id} img`)?.src.includes('file=')", arg="gan-image")
    shown = page.request.get(page.locator("#gan-image img").first.get_attribute("src")).body()
    assert (np.asarray(Image.open(io.BytesIO(shown)).convert("L")) == np.asarray(Image.open(path).convert("L"))).all()
    page.close()


def test_a_ddpm_link_runs_the_chain_to_t_and_opens_the_forward_view(browser, app_url):
    page = _open(browser, app_url + "?tab=ddpm&ds=fashion&seed=42&t=500")
    _selected(page, "DDPM diffusion")
    expect(page.locator("#ddpm-t")).to_have_text("500", timeout=120_000)
    expect(page.get_by_label("seed of x_T")).to_have_value("42")
    expect(page.locator("input[value='Fashion-MNIST']:visible")).to_be_checked()
    expect(page.locator("#ddpm-numbers")).to_contain_text("Algorithm 2")
    expect(page.locator("#ddpm-w input[type=number]")).to_have_value("3")  # Fashion's shipped w, not MNIST's
    page.locator("#ddpm-class input").click()
    expect(page.get_by_role("option", name="7: Sneaker", exact=True)).to_be_visible()  # its class names
    page.close()
    page = _open(browser, app_url + "?tab=ddpm&view=forward&ft=300&sched=cosine")
    _selected(page, "Forward: add noise")
    expect(page.locator("#ddpm-forward-t input[type=number]")).to_have_value("300", timeout=30_000)
    expect(page.locator("#ddpm-forward-numbers")).to_contain_text("t = 300 (cosine)", timeout=60_000)
    page.close()


def test_a_playground_link_opens_that_family(browser, app_url):
    page = _open(browser, app_url + "playground?view=ddpm")
    _selected(page, "DDPM")
    expect(page.locator("#toy-ddpm-view canvas").first).to_be_visible(timeout=60_000)
    page.close()
    page = _open(browser, app_url + "playground?view=nope")  # ignored: the first family
    _selected(page, "GAN")
    page.close()
    page = _open(browser, app_url + "?present=1")  # the main page carries none of the playground's components
    assert page.locator("#toy-gan-view").count() == 0
    page.get_by_role("link", name="Training playground").click()  # presentation mode stays on, page to page
    page.wait_for_selector("#toy-gan-view", timeout=60_000)
    page.wait_for_function("() => document.body.classList.contains('present')", timeout=10_000)
    page.locator("#present-toggle input").uncheck()
    page.get_by_role("link", name="Lecture: VAE, GAN, DDPM").click()  # ... and off
    page.wait_for_selector("#vae-decoded img", timeout=60_000)
    page.wait_for_timeout(1000)
    assert not page.evaluate("document.body.classList.contains('present')")
    page.close()


def test_bad_values_in_a_link_are_ignored_or_clamped(browser, app_url):
    page = _open(browser, app_url + "?tab=nope&seed=abc")
    _selected(page, "VAE")  # an unknown tab: the app opens as usual
    page.close()
    page = _open(browser, app_url + "?tab=gan&seed=abc&psi=99&ds=cifar&path=zigzag")
    _selected(page, "GAN")
    expect(page.locator("#gan-seed input")).to_have_value("42")  # seed 'abc': ignored
    expect(page.locator("#gan-psi input[type=number]")).to_have_value("1.5", timeout=30_000)  # clamped
    expect(page.locator("#gan-dataset input[value='MNIST']")).to_be_checked()
    expect(page.locator("#gan-d")).to_contain_text("ψ = 1.50", timeout=60_000)
    expect(page.locator(".toast-body.error")).to_have_count(0)
    page.close()


def test_copy_link_gives_a_url_that_reopens_the_view(browser, app_url):
    page = _open(browser, app_url + "?present=1")
    page.get_by_role("tab", name="GAN", exact=True).click()
    expect(page.locator("#gan-d")).to_contain_text("seed 42", timeout=60_000)
    before = _src(page, "gan-image")
    page.locator("#gan-dataset").get_by_label("Fashion-MNIST").check()
    page.wait_for_function("([id, old]) => !(document.querySelector(`#${id} img`)?.src || '').endsWith(old)",
                           arg=["gan-image", before], timeout=60_000)  # the dataset's image is drawn
    seed = page.locator("#gan-seed input")
    seed.fill("9")
    seed.press("Enter")
    expect(page.locator("#gan-d")).to_contain_text("seed 9", timeout=60_000)
    page.wait_for_timeout(1500)  # the image of the new seed and dataset
    shown = _src(page, "gan-image")
    page.locator("#copy-link").click()
    box = page.locator("#view-link textarea, #view-link input").first
    page.wait_for_function("() => (document.querySelector('#view-link textarea, #view-link input')?.value || '')"
                           ".includes('tab=gan')")
    url = box.input_value()
    assert "ds=fashion" in url and "seed=9" in url and "present=1" in url, url
    assert "psi" not in url  # values at their defaults are left out
    page.close()
    page = _open(browser, url)
    _selected(page, "GAN")
    expect(page.locator("#gan-d")).to_contain_text("seed 9", timeout=60_000)
    expect(page.locator("#gan-dataset input[value='Fashion-MNIST']")).to_be_checked()
    page.wait_for_function("id => document.querySelector(`#${id} img`)?.src.includes('file=')", arg="gan-image")
    page.wait_for_timeout(1500)
    assert _src(page, "gan-image") == shown
    assert page.evaluate("document.body.classList.contains('present')")
    page.close()
