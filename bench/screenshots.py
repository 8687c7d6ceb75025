"""Screenshot every tab at 1280x720 in headless Chromium, normal and presentation mode, light and dark.

python bench/screenshots.py [URL] [--out screenshots] [--full]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


# Done loading: on the screen to be shot, no status tracker says "processing" and every image with a source has
# arrived. Under load (training beside it, a class) a first render can take many seconds; a fixed sleep shot blank
# panels then. Only what is shot counts: lazy images and slow charts further down need not be there.
SETTLED = """(full) => {
  const shown = e => { const r = e.getBoundingClientRect();
    return e.offsetParent !== null && r.width > 0 && (full || (r.bottom > 0 && r.top < innerHeight)); };
  return [...document.querySelectorAll('.progress-text, .eta-bar')].filter(shown).length === 0
    && [...document.querySelectorAll('img[src]:not([src=""])')].filter(shown)
         .every(i => i.complete && i.naturalWidth > 0); }"""


def settled(page, full: bool, timeout_s: int) -> bool:
    try:
        page.wait_for_function(SETTLED, arg=full, timeout=timeout_s * 1000, polling=250)
    except PlaywrightTimeout:
        return False
    time.sleep(0.5)  # the last image paints
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url", nargs="?", default="http://127.0.0.1:7860")
    p.add_argument("--out", default="screenshots")
    p.add_argument("--full", action="store_true", help="whole page, not only the first screen")
    p.add_argument("--wait", type=int, default=60, help="seconds a tab may take to load before it is shot anyway")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for mode, query in (("normal", "?"), ("present", "?present=1&"), ("present-dark", "?present=1&__theme=dark"),
                            ("dark", "?__theme=dark")):
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(a.url.rstrip("/") + "/" + query.rstrip("&?"))
            page.wait_for_selector("button[role=tab]")
            top = page.locator("button[role=tab]").all_inner_texts()
            for tab in top[: len(top)]:
                if not page.get_by_role("tab", name=tab, exact=True).is_visible():
                    continue  # a sub-tab of another tab
                page.get_by_role("tab", name=tab, exact=True).click()
                time.sleep(1.0)  # the tab's own load events start
                if not settled(page, a.full, a.wait):
                    print(f"{tab} ({mode}): still loading after {a.wait} s, shot as it is")
                path = out / f"{tab.split()[0].lower()}-{mode}.png"
                page.screenshot(path=path, full_page=a.full)
                print(path)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
