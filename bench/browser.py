"""Round trips as a visitor feels them, in headless Chromium against a launched app.

python bench/browser.py [--url URL]   (without --url it launches `python app.py` itself)
Prints medians of: VAE slider -> decoded image, GAN seed -> image, and the DDPM Play stream's
frames per second with every step shown, plain and with classifier-free guidance; then again after a tour of every
tab (Gradio's per-event cost in the page grows with the components a visitor's events have touched). Benchmark
figures, not tests.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from playwright.sync_api import Page

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import chromium_page, launch_app  # noqa: E402

# Resolves with the ms between running `act` and the image inside `#id` getting a new src.
ROUND_TRIP = """async ([id, act]) => {
  const img = () => document.querySelector(`#${id} img`);
  const old = img() ? img().src : null;
  const t0 = performance.now();
  new Function(act)();
  while (!img() || img().src === old) { await new Promise(r => requestAnimationFrame(r)); }
  return performance.now() - t0;
}"""

SET_RANGE = """const r = document.querySelector('{css}');
r.value = {value}; r.dispatchEvent(new Event('input', {{bubbles: true}}));"""


def round_trips(page: Page, elem_id: str, acts: list[str], idle_ms: int = 0) -> list[float]:
    """One round trip per action; `idle_ms` lets follow-up events (a grid, a panel) finish in between."""
    out = []
    for act in acts:
        out.append(page.evaluate(ROUND_TRIP, [elem_id, act]))
        page.wait_for_timeout(idle_ms)
    return out


def frames_per_second(page: Page, elem_id: str, seconds: float = 5.0) -> float:
    return page.evaluate("""async ([id, ms]) => {
      let n = 0, last = null; const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        const i = document.querySelector(`#${id} img`);
        if (i && i.src !== last) { n++; last = i.src; }
        await new Promise(r => requestAnimationFrame(r));
      }
      return n / (ms / 1000);
    }""", [elem_id, seconds * 1000])


def report(what: str, rt: list[float], how: str) -> None:
    print(f"{what:<23}median {statistics.median(rt):6.1f} ms, p90 {sorted(rt)[int(0.9 * len(rt))]:6.1f} ms over "
          f"{len(rt)} {how} (target median <= 150)")


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def sliders_and_seeds(page: Page, n: int, when: str) -> None:
    tab(page, "VAE")
    page.wait_for_selector("#vae-decoded img", timeout=60_000)
    # values apart from the first pass's, so that each move brings a new image
    z1 = '[aria-label="range slider for z1"]'
    acts = [SET_RANGE.format(css=z1, value=round(-2.5 + 5 * i / n + 0.01 * bool(when), 3)) for i in range(n)]
    report("VAE slider -> image:", round_trips(page, "vae-decoded", acts), f"moves{when}")
    if page.get_by_role("tab", name="GAN").count():
        tab(page, "GAN")
        page.wait_for_selector("#gan-image img", timeout=30_000)
        acts = ["document.querySelector('#gan-next').click()"] * n
        for idle in (600, 0):  # a visitor clicking, looking, clicking; and clicking as fast as possible
            report("GAN seed -> image:", round_trips(page, "gan-image", acts, idle), f"clicks {idle} ms apart{when}")


def forward_slider(page: Page, n: int, when: str) -> None:
    """The forward process: the t slider -> x_t from q(x_t | x_0)."""
    tab(page, "DDPM diffusion")
    page.locator("button[role=tab][data-tab-id=ddpm-forward]").click()
    page.wait_for_selector("#ddpm-forward-xt img", timeout=30_000)
    acts = [SET_RANGE.format(css="#ddpm-forward-t input[type=range]", value=(37 * i + 3 * bool(when)) % 1000)
            for i in range(1, n + 1)]  # distinct t, each unlike the first pass's: each move brings a new x_t
    report("DDPM forward t -> x_t:", round_trips(page, "ddpm-forward-xt", acts), f"moves{when}")


def play(page: Page, labels: tuple[str, ...], when: str) -> None:
    tab(page, "DDPM diffusion")
    page.get_by_role("tab", name="Reverse: denoise step by step").click()
    page.wait_for_selector("#ddpm-xt img", timeout=30_000)
    page.locator("#ddpm-every input[type=radio]").first.check()  # Play: 1 step per frame, every step shown
    for label in labels:
        if label != "unguided":  # classifier-free guidance: two U-Net passes (one batched) per step
            page.locator("#ddpm-class input").click()
            page.get_by_role("option", name="7", exact=True).click()
            page.wait_for_function("() => document.querySelector('#ddpm-t').textContent === '1000'")
        page.locator("#ddpm-play").click()
        page.wait_for_function("() => +document.querySelector('#ddpm-t').textContent < 995")
        fps = frames_per_second(page, "ddpm-xt")
        page.locator("#ddpm-pause").click()
        print(f"DDPM Play stream:     {fps:6.1f} frames/s with every step shown, {label}{when} (target >= 20)")
        page.get_by_role("button", name="Reset x_T").click()


def tour(page: Page) -> None:
    """Visit every tab as a student exploring the lab would, letting each draw."""
    for name in [t.get_attribute("data-tab-id") for t in page.locator("button[role=tab][data-tab-id]").all()]:
        button = page.locator(f"button[role=tab][data-tab-id='{name}']")
        if button.is_visible():  # a tab inside a tab shows once its outer tab is open
            button.click()
            page.wait_for_timeout(3000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=None)
    p.add_argument("--n", type=int, default=30)
    a = p.parse_args()
    proc, url = (None, a.url) if a.url else launch_app()
    try:
        with chromium_page(url) as page:
            page.wait_for_selector("#vae-decoded img", timeout=60_000)
            sliders_and_seeds(page, a.n, "")
            forward_slider(page, a.n, "")
            play(page, ("unguided", "guided, y = 7, w = 1"), "")
            tour(page)  # Gradio's per-event cost grows with the components a visitor's events touched so far
            sliders_and_seeds(page, a.n, ", after a tour of every tab")
            forward_slider(page, a.n, ", after the tour")
            play(page, ("unguided",), ", after the tour")
    finally:
        if proc:
            proc.terminate()


if __name__ == "__main__":
    main()
