"""Screenshot every tab at 1280x720 in headless Chromium: python bench/screenshots.py [URL] [--out screenshots]."""
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
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(a.url)
        page.wait_for_selector("button[role=tab]")
        for tab in page.locator("button[role=tab]").all_inner_texts():
            page.get_by_role("tab", name=tab).click()
            time.sleep(2.5)
            page.screenshot(path=out / f"{tab.split()[0].lower()}.png", full_page=a.full)
            print(out / f"{tab.split()[0].lower()}.png")
        browser.close()


if __name__ == "__main__":
    main()
