"""Cold start: seconds from `python app.py` to the page served and to the first image shown.

python bench/cold_start.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, launch_app  # noqa: E402

t0 = time.perf_counter()
proc, url = launch_app()
served = time.perf_counter() - t0
try:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.wait_for_selector("#vae-decoded img", timeout=120_000)
        shown = time.perf_counter() - t0
        browser.close()
finally:
    proc.terminate()
print(f"cold start: page served after {served:.1f} s, first decoded image in the browser after {shown:.1f} s")
