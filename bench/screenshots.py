"""Screenshot every tab at 1280x720 in headless Chromium, normal and presentation mode, light and dark.

python bench/screenshots.py [URL] [--out screenshots] [--full]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url", nargs="?", default="http://127.0.0.1:7860")
    p.add_argument("--out", default="screenshots")
    p.add_argument("--full", action="store_true", help="whole page, not only the first screen")
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
                time.sleep(2.5)
                path = out / f"{tab.split()[0].lower()}-{mode}.png"
                page.screenshot(path=path, full_page=a.full)
                print(path)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
