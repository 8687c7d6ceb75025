"""Cold start: seconds from `python app.py` to the page served and to the first image shown.

python bench/cold_start.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import chromium_page, launch_app  # noqa: E402

t0 = time.perf_counter()
proc, url = launch_app()
served = time.perf_counter() - t0
try:
    with chromium_page(url) as page:
        page.wait_for_selector("#vae-decoded img", timeout=120_000)
        shown = time.perf_counter() - t0
finally:
    proc.terminate()
print(f"cold start: page served after {served:.1f} s, first decoded image in the browser after {shown:.1f} s")
